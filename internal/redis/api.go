package redis

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/dandan-sre/dandan/internal/httpapi"
)

// mountAPI registers the JSON routes. Reads need the viewer role, writes
// the operator role (and a connection with readonly: false).
func (p *Redis) mountAPI(m *httpapi.Mux) {
	m.API("GET /api/redis/connections", httpapi.Viewer, p.apiConnections)
	m.API("GET /api/redis/{conn}/keys", httpapi.Viewer, p.apiKeys)
	m.API("POST /api/redis/{conn}/keys/cancel", httpapi.Viewer, p.apiCancel)
	m.API("GET /api/redis/{conn}/key", httpapi.Viewer, p.apiKey)
	m.API("GET /api/redis/{conn}/key/fields", httpapi.Viewer, p.apiFields)
	m.API("GET /api/redis/{conn}/key/memory", httpapi.Viewer, p.apiMemory)
	m.API("GET /api/redis/{conn}/clients", httpapi.Viewer, p.apiClients)
	m.API("GET /api/redis/{conn}/cluster", httpapi.Viewer, p.apiCluster)
	m.API("GET /api/redis/{conn}/info", httpapi.Viewer, p.apiInfo)
	m.API("GET /api/redis/{conn}/stats", httpapi.Viewer, p.apiStats)
	m.API("GET /api/redis/{conn}/config", httpapi.Viewer, p.apiConfig)
	m.API("GET /api/redis/{conn}/slowlog", httpapi.Viewer, p.apiSlowlog)
	m.API("GET /api/redis/{conn}/bigkeys", httpapi.Viewer, p.apiBigKeys)
	m.API("POST /api/redis/{conn}/bigkeys", httpapi.Viewer, p.apiBigKeysStart)
	m.API("POST /api/redis/{conn}/bigkeys/cancel", httpapi.Viewer, p.apiBigKeysCancel)
	m.API("POST /api/redis/{conn}/key/delete", httpapi.Operator, p.apiWrite("delete"))
	m.API("POST /api/redis/{conn}/key/ttl", httpapi.Operator, p.apiWrite("ttl"))
	m.API("POST /api/redis/{conn}/key/value", httpapi.Operator, p.apiWrite("value"))
	m.API("POST /api/redis/{conn}/key/field", httpapi.Operator, p.apiWrite("field"))
	m.API("GET /api/redis/{conn}/audit", httpapi.Operator, p.apiAudit)
}

// ConnInfo is one connection in GET /api/redis/connections.
type ConnInfo struct {
	Name     string   `json:"name"`
	Kind     string   `json:"kind"` // standalone, cluster or sentinel
	Addrs    []string `json:"addrs"`
	ReadOnly bool     `json:"readonly"`
	TLS      bool     `json:"tls"`
}

func (p *Redis) connInfos() []ConnInfo {
	out := []ConnInfo{}
	for _, n := range p.names {
		cc := p.conns[n].cfg
		ci := ConnInfo{Name: n, Kind: cc.kind(), ReadOnly: cc.readOnly(), TLS: cc.TLS.Enabled}
		switch {
		case cc.Addr != "":
			ci.Addrs = []string{cc.Addr}
		case len(cc.Cluster) > 0:
			ci.Addrs = cc.Cluster
		case cc.Sentinel != nil:
			ci.Addrs = cc.Sentinel.Addrs
		}
		out = append(out, ci)
	}
	return out
}

func (p *Redis) apiConnections(w http.ResponseWriter, r *http.Request) error {
	return httpapi.JSON(w, http.StatusOK, p.connInfos())
}

// conn returns the connection named in the path.
func (p *Redis) conn(r *http.Request) (*Conn, error) {
	name := r.PathValue("conn")
	c, ok := p.conns[name]
	if !ok {
		return nil, httpapi.NotFound("no redis connection %q", name)
	}
	return c, nil
}

// apiErr turns the part's errors into what the client is told.
func apiErr(err error) error {
	var pe *paramError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return httpapi.BadParam(pe.name, pe.err)
	case errors.Is(err, errSearchGone):
		return httpapi.NotFound("%v", err)
	case errors.Is(err, errNoKey):
		return httpapi.NotFound("%v", err)
	case errors.Is(err, errUnknownNode):
		return httpapi.BadParam("node", err)
	case errors.Is(err, ErrRefused):
		return httpapi.Forbidden("%v", err)
	case errors.Is(err, errBigKeysRunning):
		return &httpapi.Error{Status: http.StatusConflict, Code: httpapi.CodeConflict, Msg: err.Error()}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return err
	}
	var he *httpapi.Error
	if errors.As(err, &he) {
		return err
	}
	return httpapi.Unavailable("redis: "+err.Error(), err)
}

// intParam reads an integer parameter between lo and hi, def when absent.
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, httpapi.BadParam(name, fmt.Errorf("not an integer %q", s))
	}
	if n < lo || n > hi {
		return 0, httpapi.BadParam(name, fmt.Errorf("must be between %d and %d", lo, hi))
	}
	return n, nil
}

// keyName reads the required key name: name or name_b64.
func keyName(r *http.Request) ([]byte, error) {
	if r.Method == http.MethodPost {
		if err := r.ParseForm(); err != nil {
			return nil, httpapi.BadRequest("unreadable form: %v", err)
		}
	}
	b, ok, err := bytesParam(r.Form, "name")
	if r.Method != http.MethodPost {
		b, ok, err = bytesParam(r.URL.Query(), "name")
	}
	if err != nil {
		return nil, httpapi.BadParam("name", err)
	}
	if !ok || len(b) == 0 {
		return nil, httpapi.BadParam("name", errors.New("required: the key name, as name (text) or name_b64 (base64)"))
	}
	return b, nil
}

// searchRequest reads the parameters of a key search.
func (p *Redis) searchRequest(r *http.Request) (searchParams, string, error) {
	q := r.URL.Query()
	min, err := intParam(r, "min", 50, 1, 1000000)
	if err != nil {
		return searchParams{}, "", err
	}
	sp := searchParams{Pattern: q.Get("pattern"), Type: q.Get("type"), Min: min, Meta: q.Get("meta") != "0" && q.Get("meta") != "false"}
	if len(sp.Type) > 64 {
		return sp, "", httpapi.BadParam("type", errors.New("too long"))
	}
	return sp, q.Get("cursor"), nil
}

// runSearch starts or continues a search and runs one page.
func (p *Redis) runSearch(ctx context.Context, c *Conn, sp searchParams, cursor string, budget time.Duration) (SearchPage, error) {
	var s *search
	var err error
	if cursor == "" {
		s, err = p.ss.start(ctx, c, sp)
	} else {
		s, err = p.ss.get(c, cursor)
	}
	if err != nil {
		return SearchPage{}, err
	}
	if cursor != "" {
		s.params.Min = sp.Min // the page size may change between pages
	}
	page, err := s.next(ctx, budget, p.cfg.ParallelNodes, p.cfg.ScanCount)
	if err != nil {
		return page, err
	}
	if page.Done {
		p.ss.finish(s)
	}
	return page, nil
}

func (p *Redis) apiKeys(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	sp, cursor, err := p.searchRequest(r)
	if err != nil {
		return err
	}
	page, err := p.runSearch(r.Context(), c, sp, cursor, p.cfg.SearchBudget.Std())
	if err != nil {
		return apiErr(err)
	}
	return writeSearchPage(w, &page)
}

func (p *Redis) apiCancel(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	cursor := r.URL.Query().Get("cursor")
	if cursor == "" {
		return httpapi.BadParam("cursor", errors.New("required"))
	}
	return httpapi.JSON(w, http.StatusOK, map[string]bool{"cancelled": p.ss.cancel(c, cursor)})
}

func (p *Redis) apiKey(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	key, err := keyName(r)
	if err != nil {
		return err
	}
	v, err := p.keyView(r.Context(), c, key, r.URL.Query().Get("cursor"))
	if err != nil {
		return apiErr(err)
	}
	return httpapi.JSON(w, http.StatusOK, v)
}

// fieldQuery is a field search as the request asked for it.
type fieldQuery struct {
	key []byte
	min int
}

// fieldsRequest reads a field search from r (connection, key name, min,
// pattern, cursor) and runs it; the API and the page share it.
func (p *Redis) fieldsRequest(r *http.Request) (*Conn, fieldQuery, *FieldPage, error) {
	var fq fieldQuery
	c, err := p.conn(r)
	if err != nil {
		return nil, fq, nil, err
	}
	if fq.key, err = keyName(r); err != nil {
		return nil, fq, nil, err
	}
	if fq.min, err = intParam(r, "min", 50, 1, 100000); err != nil {
		return nil, fq, nil, err
	}
	q := r.URL.Query()
	fp, err := p.fields(r.Context(), c, fq.key, q.Get("pattern"), fq.min, q.Get("cursor"))
	if err != nil {
		return nil, fq, nil, apiErr(err)
	}
	return c, fq, fp, nil
}

func (p *Redis) apiFields(w http.ResponseWriter, r *http.Request) error {
	_, _, fp, err := p.fieldsRequest(r)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, fp)
}

// MemoryReply is GET /api/redis/{conn}/key/memory.
type MemoryReply struct {
	Name    string `json:"name"`
	NameB64 string `json:"name_b64"`
	Bytes   int64  `json:"bytes"`
}

func (p *Redis) apiMemory(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	key, err := keyName(r)
	if err != nil {
		return err
	}
	n, err := c.keys().MemoryUsage(r.Context(), string(key)).Result()
	if err != nil {
		if err.Error() == "redis: nil" {
			return httpapi.NotFound("key %q: %v", display(key), errNoKey)
		}
		return apiErr(err)
	}
	return httpapi.JSON(w, http.StatusOK, MemoryReply{Name: display(key), NameB64: b64(key), Bytes: n})
}

func (p *Redis) apiClients(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	out, err := p.clients(r.Context(), c, q.Get("node"), q.Get("q"), q.Get("sort"), q.Get("desc") == "1")
	if err != nil {
		return apiErr(err)
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (p *Redis) apiCluster(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	out, err := p.clusterView(r.Context(), c, r.URL.Query().Get("refresh") == "1")
	if err != nil {
		return apiErr(err)
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (p *Redis) apiInfo(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	out, err := p.info(r.Context(), c, q.Get("node"), q.Get("section"))
	if err != nil {
		return apiErr(err)
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (p *Redis) apiStats(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	out, err := p.stats(r.Context(), c)
	if err != nil {
		return apiErr(err)
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (p *Redis) apiConfig(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	out, err := p.configView(r.Context(), c, q.Get("node"), q.Get("pattern"))
	if err != nil {
		return apiErr(err)
	}
	return httpapi.JSON(w, http.StatusOK, out)
}

func (p *Redis) apiSlowlog(w http.ResponseWriter, r *http.Request) error {
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
	return httpapi.JSON(w, http.StatusOK, out)
}

func (p *Redis) apiBigKeys(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.conn(r); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, p.big[r.PathValue("conn")].reply())
}

func (p *Redis) apiBigKeysStart(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.conn(r); err != nil {
		return err
	}
	b := p.big[r.PathValue("conn")]
	if err := b.start(r.Context()); err != nil {
		return apiErr(err)
	}
	return httpapi.JSON(w, http.StatusAccepted, b.reply())
}

func (p *Redis) apiBigKeysCancel(w http.ResponseWriter, r *http.Request) error {
	if _, err := p.conn(r); err != nil {
		return err
	}
	b := p.big[r.PathValue("conn")]
	if err := b.stop(r.Context()); err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, b.reply())
}

// writeRequest reads a write of kind from the form (or query).
func writeRequest(r *http.Request, kind string) (writeOp, error) {
	op := writeOp{kind: kind}
	var err error
	if op.key, err = keyName(r); err != nil {
		return op, err
	}
	switch kind {
	case "ttl":
		s := r.Form.Get("ttl_ms")
		if op.ttlMS, err = strconv.ParseInt(s, 10, 64); err != nil {
			return op, httpapi.BadParam("ttl_ms", fmt.Errorf("not an integer %q", s))
		}
	case "field":
		f, ok, err := bytesParam(r.Form, "field")
		if err != nil || !ok {
			if err == nil {
				err = errors.New("required")
			}
			return op, httpapi.BadParam("field", err)
		}
		op.field = f
		fallthrough
	case "value":
		v, ok, err := bytesParam(r.Form, "value")
		if err != nil || !ok {
			if err == nil {
				err = errors.New("required")
			}
			return op, httpapi.BadParam("value", err)
		}
		op.value = v
	}
	return op, nil
}

func who(r *http.Request) string {
	if id := httpapi.IdentityFrom(r.Context()); id != nil {
		return id.Name + " (" + id.Role.String() + ")"
	}
	return "anonymous"
}

func (p *Redis) apiWrite(kind string) httpapi.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := p.conn(r)
		if err != nil {
			return err
		}
		op, err := writeRequest(r, kind)
		if err != nil {
			return err
		}
		res, err := p.write(r.Context(), c, who(r), op)
		if err != nil {
			return apiErr(err)
		}
		return httpapi.JSON(w, http.StatusOK, res)
	}
}

func (p *Redis) apiAudit(w http.ResponseWriter, r *http.Request) error {
	c, err := p.conn(r)
	if err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 100, 1, 1000)
	if err != nil {
		return err
	}
	out, err := p.audit(r.Context(), c.name, limit)
	if err != nil {
		return err
	}
	return httpapi.JSON(w, http.StatusOK, out)
}
