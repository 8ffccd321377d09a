package redis

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dandan-sre/dandan/internal/httpapi"
)

// uiBudget is how long one page of a search in the UI scans before it
// shows its progress; the UI asks for the next page at once.
const uiBudget = 400 * time.Millisecond

// mountPages registers the UI. Fragments (search pages, value pages,
// actions) are pages too: htmx gets their content only.
func (p *Redis) mountPages(m *httpapi.Mux) {
	m.Page("GET /redis", httpapi.Viewer, "Redis", p.pageIndex)
	m.Page("GET /redis/{conn}", httpapi.Viewer, "Redis keys", p.pageSearch)
	m.Page("GET /redis/{conn}/search", httpapi.Viewer, "Redis keys", p.pageResults)
	m.Page("POST /redis/{conn}/search/cancel", httpapi.Viewer, "Redis keys", p.pageCancel)
	m.Page("GET /redis/{conn}/key", httpapi.Viewer, "Redis key", p.pageKey)
	m.Page("GET /redis/{conn}/key/more", httpapi.Viewer, "Redis key", p.pageItems)
	m.Page("GET /redis/{conn}/key/fields", httpapi.Viewer, "Redis key", p.pageFields)
	m.Page("GET /redis/{conn}/key/memory", httpapi.Viewer, "Redis key", p.pageMemory)
	m.Page("POST /redis/{conn}/key/delete", httpapi.Operator, "Redis key", p.pageWrite("delete"))
	m.Page("POST /redis/{conn}/key/ttl", httpapi.Operator, "Redis key", p.pageWrite("ttl"))
	m.Page("POST /redis/{conn}/key/value", httpapi.Operator, "Redis key", p.pageWrite("value"))
	m.Page("POST /redis/{conn}/key/field", httpapi.Operator, "Redis key", p.pageWrite("field"))
	m.Page("GET /redis/{conn}/clients", httpapi.Viewer, "Redis clients", p.pageClients)
	m.Page("GET /redis/{conn}/cluster", httpapi.Viewer, "Redis cluster", p.pageCluster)
	m.Page("GET /redis/{conn}/info", httpapi.Viewer, "Redis info", p.pageInfo)
	m.Page("GET /redis/{conn}/config", httpapi.Viewer, "Redis config", p.pageConfig)
	m.Page("GET /redis/{conn}/slowlog", httpapi.Viewer, "Redis slow log", p.pageSlowlog)
	m.Page("GET /redis/{conn}/bigkeys", httpapi.Viewer, "Redis big keys", p.pageBigKeys)
	m.Page("POST /redis/{conn}/bigkeys", httpapi.Viewer, "Redis big keys", p.pageBigKeysStart)
	m.Page("POST /redis/{conn}/bigkeys/cancel", httpapi.Viewer, "Redis big keys", p.pageBigKeysCancel)
}

// Tab is one entry of a connection's tabs.
type Tab struct {
	Title, Path string
	Active      bool
}

// ConnView is what every connection page shows on top.
type ConnView struct {
	Conn     string
	Kind     string
	ReadOnly bool
	CanWrite bool // not read-only and the caller is an operator
	Tabs     []Tab
	Base     string // /redis/{conn}
}

func (p *Redis) connView(r *http.Request, c *Conn, active string) ConnView {
	base := "/redis/" + url.PathEscape(c.name)
	v := ConnView{Conn: c.name, Kind: c.cfg.kind(), ReadOnly: c.cfg.readOnly(), Base: base}
	if id := httpapi.IdentityFrom(r.Context()); id != nil && id.Role >= httpapi.Operator && !v.ReadOnly {
		v.CanWrite = true
	}
	for _, t := range []struct{ title, path string }{
		{"Keys", ""}, {"Clients", "/clients"}, {"Cluster", "/cluster"}, {"Info", "/info"},
		{"Config", "/config"}, {"Slow log", "/slowlog"}, {"Big keys", "/bigkeys"},
	} {
		v.Tabs = append(v.Tabs, Tab{Title: t.title, Path: base + t.path, Active: t.title == active})
	}
	return v
}

// IndexView is the connections page.
type IndexView struct {
	Conns []ConnInfo
}

func (p *Redis) pageIndex(w http.ResponseWriter, r *http.Request) error {
	return p.pages.Render(w, r, http.StatusOK, "index", "Redis", IndexView{Conns: p.connInfos()})
}

// KeyRow is a key in a table of the UI.
type KeyRow struct {
	Name, Type, Len, TTL, Where, URL string
	Binary                           bool
}

func (p *Redis) keyRow(base string, k KeyInfo) KeyRow {
	return KeyRow{Name: k.Name, Binary: k.Binary, Type: k.Type, Len: lenText(k.Len), TTL: ttlText(k.TTLms),
		Where: slotText(k.Slot, k.Node), URL: base + "/key?name_b64=" + url.QueryEscape(k.NameB64)}
}

// SearchView is the key search page and its result fragments.
type SearchView struct {
	ConnView
	Pattern, Type string
	Min           int
	Types         []string
	Started       bool
	Results       ResultsView
}

// ResultsView is one page of search results.
type ResultsView struct {
	Base      string
	First     bool
	Rows      []KeyRow
	Found     int
	Done      bool
	Cancelled bool
	Error     string
	Percent   string
	Fraction  float64
	Total     string
	Cursor    string
	// Next continues the search; Auto says whether the page loads it by
	// itself (fewer hits than min so far) or waits for a click.
	Next string
	Auto bool
}

func searchTypes() []string {
	return []string{"string", "hash", "list", "set", "zset", "stream"}
}

func (p *Redis) pageSearch(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	v := SearchView{ConnView: p.connView(r, c, "Keys"), Pattern: "*", Min: 100, Types: searchTypes()}
	if r.URL.Query().Has("pattern") {
		v.Started = true
		v.Results, err = p.results(r, c, true)
		if err != nil {
			return err
		}
		v.Pattern, v.Type, v.Min = r.URL.Query().Get("pattern"), r.URL.Query().Get("type"), v.Results.minOf(r)
	}
	return p.pages.Render(w, r, http.StatusOK, "search", "Redis keys · "+c.name, v)
}

func (ResultsView) minOf(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("min"))
	if err != nil || n < 1 {
		return 100
	}
	return n
}

// results runs one UI page of a search; the query carries pattern, type,
// min, the cursor and found (hits shown so far).
func (p *Redis) results(r *http.Request, c *Conn, first bool) (ResultsView, error) {
	base := "/redis/" + url.PathEscape(c.name)
	rv := ResultsView{Base: base, First: first}
	sp, cursor, err := p.searchRequest(r)
	if err != nil {
		return rv, err
	}
	found, _ := strconv.Atoi(r.URL.Query().Get("found"))
	want := sp.Min
	sp.Min = max(1, want-found)
	page, err := p.runSearch(r.Context(), c, sp, cursor, uiBudget)
	switch {
	case errors.Is(err, errSearchGone):
		rv.Cancelled = true
		rv.Found = found
		return rv, nil
	case err != nil:
		rv.Error = apiErr(err).Error()
		return rv, nil
	}
	for _, k := range page.Keys {
		rv.Rows = append(rv.Rows, p.keyRow(base, k))
	}
	rv.Found = found + len(page.Keys)
	rv.Done = page.Done
	rv.Fraction = page.Progress.Fraction
	rv.Percent = percent(page.Progress.Fraction)
	rv.Total = humanCount(page.Progress.Total)
	rv.Cursor = page.Cursor
	if !page.Done {
		q := url.Values{"pattern": {sp.Pattern}, "type": {sp.Type}, "min": {strconv.Itoa(want)}, "cursor": {page.Cursor}, "found": {strconv.Itoa(rv.Found)}}
		rv.Auto = rv.Found < want
		if !rv.Auto {
			q.Set("min", strconv.Itoa(rv.Found+want))
		}
		rv.Next = base + "/search?" + q.Encode()
	}
	return rv, nil
}

func (p *Redis) pageResults(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	rv, err := p.results(r, c, r.URL.Query().Get("cursor") == "")
	if err != nil {
		return err
	}
	return p.pages.Render(w, r, http.StatusOK, "results", "Redis keys · "+c.name, rv)
}

// MessageView is a short answer of an action.
type MessageView struct {
	ID    string // the element it replaces
	Text  string
	Error bool
	Back  string // a link to follow, if any
}

func (p *Redis) pageCancel(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	p.ss.cancel(c, r.URL.Query().Get("cursor"))
	return p.pages.Render(w, r, http.StatusOK, "done", "Redis keys", MessageView{ID: "progress", Text: "Search cancelled."})
}

// KeyPageView is the key view page.
type KeyPageView struct {
	ConnView
	Key     KeyView
	Row     KeyRow
	NameB64 string
	// MemoryURL measures the key's memory.
	MemoryURL string
	Copy      string // the redis-cli command that shows the value
	CopyName  string
	String    *StringView
	Items     ItemsView
	Fields    bool // field search applies
	Stream    bool
	Entries   []EntryRow
	Groups    []StreamGroup
	Raw       string
}

// StringView is a string value for the page.
type StringView struct {
	Size, Kind, Text string
	Truncated        bool
	More             string
}

// ItemsView is rows of a value, and how to get more.
type ItemsView struct {
	Kind     string // hash, list, set or zset
	Rows     []ItemRow
	More     string
	Base     string
	B64      string
	CanWrite bool
}

// ItemRow is one element of a value.
type ItemRow struct {
	A, B       string // field and value, index and value, member and score
	ABin, BBin bool
	Field      string // the hash field as base64, for edits
}

// EntryRow is one stream entry.
type EntryRow struct {
	ID     string
	Fields []ItemRow
}

func itemRows(kind string, items []Item) []ItemRow {
	out := make([]ItemRow, 0, len(items))
	for _, it := range items {
		var row ItemRow
		switch {
		case it.Field != nil:
			row = ItemRow{A: it.Field.Text, ABin: it.Field.Binary(), B: it.Value.Text, BBin: it.Value.Binary()}
			row.Field = it.Field.B64
			if row.Field == "" {
				row.Field = b64([]byte(it.Field.Text))
			}
		case it.Index != nil:
			row = ItemRow{A: strconv.FormatInt(*it.Index, 10), B: it.Value.Text, BBin: it.Value.Binary()}
		case it.Member != nil:
			row = ItemRow{A: it.Member.Text, ABin: it.Member.Binary()}
			if it.Score != nil {
				row.B = strconv.FormatFloat(*it.Score, 'g', -1, 64)
			}
		}
		out = append(out, row)
	}
	return out
}

func (p *Redis) pageKey(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	key, err := keyName(r)
	if err != nil {
		return err
	}
	kv, err := p.keyView(r.Context(), c, key, r.URL.Query().Get("cursor"))
	if err != nil {
		return apiErr(err)
	}
	v := KeyPageView{ConnView: p.connView(r, c, "Keys"), Key: *kv, NameB64: b64(key)}
	v.Row = p.keyRow(v.Base, kv.KeyInfo)
	v.MemoryURL = v.Base + "/key/memory?" + url.Values{"name_b64": {v.NameB64}}.Encode()
	host := "-h HOST -p PORT"
	if kv.Node != "" {
		if h, port, ok := strings.Cut(kv.Node, ":"); ok {
			host = "-h " + h + " -p " + port
		}
	}
	flagC := ""
	if c.cluster != nil {
		flagC = "-c "
	}
	v.Copy = "redis-cli " + flagC + host + " " + kv.CLI
	v.CopyName = cliQuote(key)
	itemsBase := v.Base + "/key/more?" + url.Values{"name_b64": {v.NameB64}}.Encode()
	v.Items = ItemsView{Kind: kv.Type, Rows: itemRows(kv.Type, kv.Items), Base: v.Base, B64: v.NameB64, CanWrite: v.CanWrite}
	if kv.Cursor != "" {
		v.Items.More = itemsBase + "&cursor=" + url.QueryEscape(kv.Cursor)
	}
	switch kv.Type {
	case "string":
		s := kv.String
		sv := &StringView{Size: humanBytes(s.Size), Kind: s.Kind, Text: s.Value.Text, Truncated: s.Truncated}
		if s.Kind == "json" {
			sv.Text = s.Pretty
		}
		if s.Kind == "binary" {
			sv.Text = s.Hex
		}
		if s.Truncated {
			sv.More = v.Base + "/key?" + url.Values{"name_b64": {v.NameB64}, "cursor": {kv.Cursor}}.Encode()
		}
		v.String = sv
		v.Items.More = ""
	case "hash", "set", "zset":
		v.Fields = true
	case "stream":
		v.Stream = true
		for _, e := range kv.Entries {
			v.Entries = append(v.Entries, EntryRow{ID: e.ID, Fields: itemRows("hash", e.Fields)})
		}
		v.Groups = kv.Groups
		v.Items.More = ""
	}
	if kv.Raw != nil {
		v.Raw = kv.Raw.Text
	}
	return p.pages.Render(w, r, http.StatusOK, "key", "Redis key · "+kv.Name, v)
}

func (p *Redis) pageItems(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	key, err := keyName(r)
	if err != nil {
		return err
	}
	kv, err := p.keyView(r.Context(), c, key, r.URL.Query().Get("cursor"))
	if err != nil {
		return apiErr(err)
	}
	cv := p.connView(r, c, "Keys")
	iv := ItemsView{Kind: kv.Type, Rows: itemRows(kv.Type, kv.Items), Base: cv.Base, B64: b64(key), CanWrite: cv.CanWrite}
	if kv.Cursor != "" {
		iv.More = cv.Base + "/key/more?" + url.Values{"name_b64": {iv.B64}, "cursor": {kv.Cursor}}.Encode()
	}
	return p.pages.Render(w, r, http.StatusOK, "items", "Redis key", iv)
}

func (p *Redis) pageFields(w http.ResponseWriter, r *http.Request) error {
	c, fq, fp, err := p.fieldsRequest(r)
	if err != nil {
		return err
	}
	key, q, min := fq.key, r.URL.Query(), fq.min
	cv := p.connView(r, c, "Keys")
	iv := ItemsView{Kind: fp.Key.Type, Rows: itemRows(fp.Key.Type, fp.Items), Base: cv.Base, B64: b64(key), CanWrite: cv.CanWrite}
	if fp.Cursor != "" {
		iv.More = cv.Base + "/key/fields?" + url.Values{"name_b64": {iv.B64}, "pattern": {q.Get("pattern")}, "min": {strconv.Itoa(min)}, "cursor": {fp.Cursor}}.Encode()
	}
	return p.pages.Render(w, r, http.StatusOK, "items", "Redis key", iv)
}

func (p *Redis) pageMemory(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	key, err := keyName(r)
	if err != nil {
		return err
	}
	n, err := c.keys().MemoryUsage(r.Context(), string(key)).Result()
	mv := MessageView{ID: "memory", Text: humanBytes(n) + " (MEMORY USAGE)"}
	if err != nil {
		mv = MessageView{ID: "memory", Text: apiErr(err).Error(), Error: true}
	}
	return p.pages.Render(w, r, http.StatusOK, "done", "Redis key", mv)
}

func (p *Redis) pageWrite(kind string) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := p.conn(r)
		if err != nil {
			return err
		}
		op, err := writeRequest(r, kind)
		if err != nil {
			return err
		}
		mv := MessageView{ID: "action"}
		res, err := p.write(r.Context(), c, who(r), op)
		if err != nil {
			mv.Text, mv.Error = apiErr(err).Error(), true
		} else {
			mv.Text = fmt.Sprintf("Done: %s (audit #%d).", res.Command, res.AuditID)
			if kind != "delete" {
				mv.Back = "/redis/" + url.PathEscape(c.name) + "/key?" + url.Values{"name_b64": {b64(op.key)}}.Encode()
			}
		}
		return p.pages.Render(w, r, http.StatusOK, "done", "Redis key", mv)
	}
}

// NodeOption is a node in a node selector.
type NodeOption struct {
	Addr     string
	Selected bool
}

func (p *Redis) nodeOptions(r *http.Request, c *Conn) []NodeOption {
	nodes, err := c.allNodes(r.Context())
	if err != nil || len(nodes) < 2 {
		return nil
	}
	sel := r.URL.Query().Get("node")
	out := []NodeOption{{Addr: "all", Selected: sel == "" || sel == "all"}}
	for _, n := range nodes {
		out = append(out, NodeOption{Addr: n.Addr, Selected: n.Addr == sel})
	}
	return out
}

// ClientsView is the clients page.
type ClientsView struct {
	ConnView
	Nodes   []NodeOption
	Filter  string
	Clients []ClientInfo
	Errors  []NodeError
	Sorts   []SortLink
}

// SortLink is a sortable column header.
type SortLink struct {
	Title, URL, Mark string
}

func (p *Redis) pageClients(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	out, err := p.clients(r.Context(), c, q.Get("node"), q.Get("q"), q.Get("sort"), q.Get("desc") == "1")
	if err != nil {
		return apiErr(err)
	}
	v := ClientsView{ConnView: p.connView(r, c, "Clients"), Nodes: p.nodeOptions(r, c), Filter: q.Get("q"), Clients: out.Clients, Errors: out.Errors}
	for _, col := range []struct{ title, key string }{{"ID", "id"}, {"Address", "addr"}, {"Name", "name"}, {"Age", "age"}, {"Idle", "idle"}, {"Command", "cmd"}, {"Node", "node"}} {
		sq := url.Values{"sort": {col.key}, "q": {q.Get("q")}, "node": {q.Get("node")}}
		mark := ""
		if q.Get("sort") == col.key || q.Get("sort") == "" && col.key == "id" {
			if q.Get("desc") != "1" {
				sq.Set("desc", "1")
				mark = "▲"
			} else {
				mark = "▼"
			}
		}
		v.Sorts = append(v.Sorts, SortLink{Title: col.title, URL: v.Base + "/clients?" + sq.Encode(), Mark: mark})
	}
	return p.pages.Render(w, r, http.StatusOK, "clients", "Redis clients · "+c.name, v)
}

// ClusterView is the cluster page.
type ClusterView struct {
	ConnView
	Cluster *ClusterReply
	Rows    []ClusterRow
	Loaded  string
}

// ClusterRow is a node on the cluster page.
type ClusterRow struct {
	ID, Addr, Role, Master, Slots, Link, Flags string
	SlotCount                                  int
	Failing, Replica                           bool
}

func (p *Redis) pageCluster(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	cr, err := p.clusterView(r.Context(), c, r.URL.Query().Get("refresh") == "1")
	if err != nil {
		return apiErr(err)
	}
	v := ClusterView{ConnView: p.connView(r, c, "Cluster"), Cluster: cr}
	if !cr.At.IsZero() {
		v.Loaded = cr.At.UTC().Format(time.RFC3339)
	}
	addrOf := map[string]string{}
	for _, n := range cr.Nodes {
		addrOf[n.ID] = n.Addr
	}
	for _, n := range cr.Nodes {
		id := n.ID
		if len(id) > 8 {
			id = id[:8]
		}
		v.Rows = append(v.Rows, ClusterRow{ID: id, Addr: n.Addr, Role: n.Role, Master: addrOf[n.MasterID], Slots: rangesText(n.Slots),
			SlotCount: n.SlotCount(), Link: n.LinkState, Flags: strings.Join(n.Flags, ","), Failing: n.Failing, Replica: n.Role == "replica"})
	}
	return p.pages.Render(w, r, http.StatusOK, "cluster", "Redis cluster · "+c.name, v)
}

// InfoView is the info page.
type InfoView struct {
	ConnView
	Nodes    []NodeOption
	Section  string
	Sections []string
	Info     *InfoReply
	Stats    string // the stats endpoint the charts poll
}

func (p *Redis) pageInfo(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	sel := p.pageNode(r, c)
	out, err := p.info(r.Context(), c, sel, q.Get("section"))
	if err != nil {
		return apiErr(err)
	}
	v := InfoView{ConnView: p.connView(r, c, "Info"), Nodes: p.nodeOptions(r, c), Section: q.Get("section"), Info: out,
		Sections: []string{"server", "clients", "memory", "persistence", "stats", "replication", "cpu", "commandstats", "errorstats", "cluster", "keyspace"},
		Stats:    "/api/redis/" + url.PathEscape(c.name) + "/stats"}
	return p.pages.Render(w, r, http.StatusOK, "info", "Redis info · "+c.name, v)
}

// pageNode is the node a per-node page shows: ?node=, or on a cluster the
// first master.
func (p *Redis) pageNode(r *http.Request, c *Conn) string {
	sel := r.URL.Query().Get("node")
	if sel == "" && c.cluster != nil {
		if ms, err := c.masters(r.Context()); err == nil {
			sel = ms[0].Addr
		}
	}
	return sel
}

// ConfigView is the config page.
type ConfigView struct {
	ConnView
	Nodes   []NodeOption
	Pattern string
	Config  *ConfigReply
}

func (p *Redis) pageConfig(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	sel := p.pageNode(r, c)
	out, err := p.configView(r.Context(), c, sel, q.Get("pattern"))
	if err != nil {
		return apiErr(err)
	}
	return p.pages.Render(w, r, http.StatusOK, "config", "Redis config · "+c.name,
		ConfigView{ConnView: p.connView(r, c, "Config"), Nodes: p.nodeOptions(r, c), Pattern: q.Get("pattern"), Config: out})
}

// SlowlogView is the slow log page.
type SlowlogView struct {
	ConnView
	Nodes   []NodeOption
	Count   int
	Entries []SlowRow
	Errors  []NodeError
}

// SlowRow is one slow log entry on the page.
type SlowRow struct {
	Node, Time, TimeISO, Duration, Command, Client, Name string
	ID                                                   int64
}

func (p *Redis) pageSlowlog(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	count, err := intParam(r, "count", 50, 1, 1000)
	if err != nil {
		return err
	}
	out, err := p.slowlog(r.Context(), c, r.URL.Query().Get("node"), count)
	if err != nil {
		return apiErr(err)
	}
	v := SlowlogView{ConnView: p.connView(r, c, "Slow log"), Nodes: p.nodeOptions(r, c), Count: count, Errors: out.Errors}
	for _, e := range out.Entries {
		v.Entries = append(v.Entries, SlowRow{Node: e.Node, ID: e.ID, Time: e.Time.Format("2006-01-02 15:04:05"), TimeISO: e.Time.Format(time.RFC3339),
			Duration: humanCount(e.DurationUS), Command: e.CommandLine(), Client: e.ClientAddr, Name: e.ClientName})
	}
	return p.pages.Render(w, r, http.StatusOK, "slowlog", "Redis slow log · "+c.name, v)
}

// BigKeysView is the big keys page.
type BigKeysView struct {
	ConnView
	Reply   BigKeysReply
	Percent string
	Scanned string
	Running bool
	Types   []BigTypeView
}

// BigTypeView is one type on the big keys page.
type BigTypeView struct {
	Type, Count string
	ByLen       []BigRow
	ByMem       []BigRow
}

// BigRow is one big key on the page.
type BigRow struct {
	KeyRow
	Memory string
}

func (p *Redis) bigKeysView(r *http.Request, c *Conn) BigKeysView {
	rep := p.big[c.name].reply()
	v := BigKeysView{ConnView: p.connView(r, c, "Big keys"), Reply: rep, Percent: percent(rep.Progress.Fraction), Scanned: humanCount(rep.Scanned), Running: rep.State == "running"}
	for _, t := range rep.Types {
		tv := BigTypeView{Type: t.Type, Count: humanCount(t.Count)}
		for _, k := range t.ByLen {
			tv.ByLen = append(tv.ByLen, BigRow{KeyRow: p.keyRow(v.Base, k.KeyInfo), Memory: humanBytes(k.MemoryBytes)})
		}
		for _, k := range t.ByMem {
			tv.ByMem = append(tv.ByMem, BigRow{KeyRow: p.keyRow(v.Base, k.KeyInfo), Memory: humanBytes(k.MemoryBytes)})
		}
		v.Types = append(v.Types, tv)
	}
	return v
}

func (p *Redis) pageBigKeys(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	return p.pages.Render(w, r, http.StatusOK, "bigkeys", "Redis big keys · "+c.name, p.bigKeysView(r, c))
}

func (p *Redis) pageBigKeysStart(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	if err := p.big[c.name].start(r.Context()); err != nil && !errors.Is(err, errBigKeysRunning) {
		return apiErr(err)
	}
	return p.pages.Render(w, r, http.StatusOK, "bigkeys", "Redis big keys · "+c.name, p.bigKeysView(r, c))
}

func (p *Redis) pageBigKeysCancel(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	if err := p.big[c.name].stop(r.Context()); err != nil {
		return err
	}
	return p.pages.Render(w, r, http.StatusOK, "bigkeys", "Redis big keys · "+c.name, p.bigKeysView(r, c))
}
