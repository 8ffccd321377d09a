package redis

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	goredis "github.com/redis/go-redis/v9"
)

// lenCommand returns the command that gives a key's length by type, or ""
// for a type without one.
func lenCommand(typ string) string {
	switch typ {
	case "string":
		return "strlen"
	case "list":
		return "llen"
	case "set":
		return "scard"
	case "zset":
		return "zcard"
	case "hash":
		return "hlen"
	case "stream":
		return "xlen"
	case "MBbloom--": // RedisBloom's Bloom filter
		return "bf.card"
	}
	return ""
}

func isRedirect(err error) bool {
	if err == nil {
		return false
	}
	s := err.Error()
	return strings.HasPrefix(s, "MOVED ") || strings.HasPrefix(s, "ASK ") || strings.HasPrefix(s, "TRYAGAIN")
}

// describe fills in the type, length and TTL of keys with two pipelines on
// cl (the node that returned them). Keys that moved meanwhile are asked
// again through the key client, which follows the redirect.
func (c *Conn) describe(ctx context.Context, cl goredis.Cmdable, infos []KeyInfo, knownType string) error {
	redirected, err := describeOn(ctx, cl, infos, knownType)
	if err != nil {
		return err
	}
	if len(redirected) > 0 && c.cluster != nil && cl != goredis.Cmdable(c.cluster) {
		again := make([]KeyInfo, len(redirected))
		for i, idx := range redirected {
			again[i] = infos[idx]
		}
		if _, err := describeOn(ctx, c.cluster, again, knownType); err != nil {
			return err
		}
		for i, idx := range redirected {
			infos[idx] = again[i]
		}
	}
	return nil
}

func describeOn(ctx context.Context, cl goredis.Cmdable, infos []KeyInfo, knownType string) (redirected []int, err error) {
	pipe := cl.Pipeline()
	types := make([]*goredis.StatusCmd, len(infos))
	ttls := make([]*goredis.DurationCmd, len(infos))
	for i := range infos {
		if knownType == "" {
			types[i] = pipe.Type(ctx, infos[i].key())
		}
		ttls[i] = pipe.PTTL(ctx, infos[i].key())
	}
	if _, err := pipe.Exec(ctx); err != nil && ctx.Err() != nil {
		return nil, err
	}
	lens := make([]*goredis.Cmd, len(infos))
	pipe = cl.Pipeline()
	queued := 0
	for i := range infos {
		k := &infos[i]
		if knownType != "" {
			k.Type = knownType
		} else if err := types[i].Err(); err != nil {
			if isRedirect(err) {
				redirected = append(redirected, i)
				continue
			}
			return nil, fmt.Errorf("TYPE: %w", err)
		} else {
			k.Type = types[i].Val()
		}
		switch err := ttls[i].Err(); {
		case isRedirect(err):
			redirected = append(redirected, i)
			continue
		case err != nil:
			return nil, fmt.Errorf("PTTL: %w", err)
		}
		ttl := pttlValue(ttls[i].Val())
		k.TTLms = &ttl
		if k.Type == "none" {
			gone := int64(-2)
			k.TTLms = &gone
			continue
		}
		if cmd := lenCommand(k.Type); cmd != "" {
			lens[i] = pipe.Do(ctx, cmd, k.key())
			queued++
		}
	}
	if queued > 0 {
		if _, err := pipe.Exec(ctx); err != nil && ctx.Err() != nil {
			return nil, err
		}
	}
	for i, cmd := range lens {
		if cmd == nil {
			continue
		}
		if n, err := cmd.Int64(); err == nil {
			infos[i].Len = &n
		} else if isRedirect(err) {
			redirected = append(redirected, i)
		}
	}
	return redirected, nil
}

// pttlValue turns go-redis's PTTL duration back into PTTL's reply: -1 no
// expiry, -2 no key, else milliseconds.
func pttlValue(d time.Duration) int64 {
	if d < 0 {
		return int64(d) // go-redis keeps -1 and -2 as they are
	}
	return d.Milliseconds()
}

// StringValue is a string value, or the window of it that was read.
type StringValue struct {
	Size   int64  `json:"size"`
	Offset int64  `json:"offset"`
	Value  Blob   `json:"value"`
	Kind   string `json:"kind"` // text, json or binary
	// Pretty is the value indented, when it is JSON.
	Pretty string `json:"pretty,omitempty"`
	// Hex is a hex dump, when the value is binary.
	Hex       string `json:"hex,omitempty"`
	Truncated bool   `json:"truncated"`
}

// Item is one element of a hash, list, set or sorted set.
type Item struct {
	Field  *Blob    `json:"field,omitempty"`  // hash
	Index  *int64   `json:"index,omitempty"`  // list
	Value  *Blob    `json:"value,omitempty"`  // hash, list
	Member *Blob    `json:"member,omitempty"` // set, zset
	Score  *float64 `json:"score,omitempty"`  // zset
}

// StreamEntry is one stream entry.
type StreamEntry struct {
	ID     string `json:"id"`
	Fields []Item `json:"fields"`
}

// StreamGroup is a consumer group with its consumers.
type StreamGroup struct {
	Name            string           `json:"name"`
	Pending         int64            `json:"pending"`
	LastDeliveredID string           `json:"last_delivered_id"`
	Consumers       []StreamConsumer `json:"consumers"`
}

// StreamConsumer is one consumer of a group.
type StreamConsumer struct {
	Name    string `json:"name"`
	Pending int64  `json:"pending"`
	IdleMS  int64  `json:"idle_ms"`
}

// KeyView is GET /api/redis/{conn}/key: the key and one page of its value.
type KeyView struct {
	KeyInfo
	Encoding string        `json:"encoding,omitempty"`
	String   *StringValue  `json:"string,omitempty"`
	Items    []Item        `json:"items,omitempty"`
	Entries  []StreamEntry `json:"entries,omitempty"`
	Groups   []StreamGroup `json:"groups,omitempty"`
	// Raw is DUMP of a module type, when it is small.
	Raw *Blob `json:"raw,omitempty"`
	// Cursor fetches the next page of the value; "" at the end.
	Cursor string `json:"cursor"`
	// CLI is the redis-cli command that shows the same.
	CLI string `json:"cli"`
}

// errNoKey is wrapped when the key does not exist.
var errNoKey = errors.New("no such key")

// keyView reads the key and the page of its value at cursor.
func (p *Redis) keyView(ctx context.Context, c *Conn, key []byte, cursor string) (*KeyView, error) {
	cl := c.keys()
	info := newKeyInfo(key, "", c.cluster != nil)
	infos := []KeyInfo{info}
	if err := c.describe(ctx, cl, infos, ""); err != nil {
		return nil, err
	}
	info = infos[0]
	if info.Type == "none" || info.Type == "" {
		return nil, fmt.Errorf("key %q: %w", display(key), errNoKey)
	}
	info.Node = c.nodeOf(ctx, key)
	v := &KeyView{KeyInfo: info}
	v.Encoding, _ = cl.ObjectEncoding(ctx, string(key)).Result()
	k := string(key)
	page := int64(p.cfg.PageSize)
	q := cliQuote(key)
	var err error
	switch info.Type {
	case "string":
		v.CLI = "GET " + q
		err = p.readString(ctx, cl, key, cursor, v)
	case "hash":
		v.CLI = "HGETALL " + q
		var kv []string
		kv, v.Cursor, err = scanPage(ctx, cursor, page, func(cur uint64) ([]string, uint64, error) {
			return cl.HScan(ctx, k, cur, "", page).Result()
		})
		for i := 0; i+1 < len(kv); i += 2 {
			f, val := newBlob([]byte(kv[i])), newBlob([]byte(kv[i+1]))
			v.Items = append(v.Items, Item{Field: &f, Value: &val})
		}
	case "set":
		v.CLI = "SMEMBERS " + q
		var ms []string
		ms, v.Cursor, err = scanPage(ctx, cursor, page, func(cur uint64) ([]string, uint64, error) {
			return cl.SScan(ctx, k, cur, "", page).Result()
		})
		for _, m := range ms {
			b := newBlob([]byte(m))
			v.Items = append(v.Items, Item{Member: &b})
		}
	case "list":
		v.CLI = "LRANGE " + q + " 0 -1"
		off, perr := offsetCursor(cursor)
		if perr != nil {
			return nil, perr
		}
		var vals []string
		vals, err = cl.LRange(ctx, k, off, off+page-1).Result()
		for i, s := range vals {
			idx := off + int64(i)
			b := newBlob([]byte(s))
			v.Items = append(v.Items, Item{Index: &idx, Value: &b})
		}
		if info.Len != nil && off+int64(len(vals)) < *info.Len {
			v.Cursor = strconv.FormatInt(off+int64(len(vals)), 10)
		}
	case "zset":
		v.CLI = "ZRANGE " + q + " 0 -1 WITHSCORES"
		off, perr := offsetCursor(cursor)
		if perr != nil {
			return nil, perr
		}
		var zs []goredis.Z
		zs, err = cl.ZRangeWithScores(ctx, k, off, off+page-1).Result()
		for _, z := range zs {
			b := newBlob([]byte(fmt.Sprint(z.Member)))
			score := z.Score
			v.Items = append(v.Items, Item{Member: &b, Score: &score})
		}
		if info.Len != nil && off+int64(len(zs)) < *info.Len {
			v.Cursor = strconv.FormatInt(off+int64(len(zs)), 10)
		}
	case "stream":
		v.CLI = "XRANGE " + q + " - + COUNT " + strconv.FormatInt(page, 10)
		err = p.readStream(ctx, cl, k, cursor, page, v)
	default:
		v.CLI = "TYPE " + q
		// A module type: shown raw (DUMP) when it is small.
		if mem, merr := cl.MemoryUsage(ctx, k).Result(); merr == nil && mem <= int64(p.cfg.MaxValueBytes) {
			if d, derr := cl.Dump(ctx, k).Result(); derr == nil {
				b := Blob{Text: hex.EncodeToString([]byte(d)), B64: b64([]byte(d))}
				v.Raw = &b
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return v, nil
}

// nodeOf returns the address of the master that holds key.
func (c *Conn) nodeOf(ctx context.Context, key []byte) string {
	if c.sentinels != nil {
		if m, err := c.sentinelMaster(ctx); err == nil {
			return m.Addr
		}
		return ""
	}
	if c.cluster == nil {
		return c.singleNode().Addr
	}
	if m, err := c.cluster.MasterForKey(ctx, string(key)); err == nil {
		return m.Options().Addr
	}
	return ""
}

func offsetCursor(cursor string) (int64, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(cursor, 10, 64)
	if err != nil || n < 0 {
		return 0, badCursor(cursor)
	}
	return n, nil
}

func badCursor(cursor string) error {
	return &paramError{name: "cursor", err: fmt.Errorf("not a cursor %q", cursor)}
}

// paramError is a bad request parameter found below the handlers.
type paramError struct {
	name string
	err  error
}

func (e *paramError) Error() string { return fmt.Sprintf("invalid parameter %q: %v", e.name, e.err) }
func (e *paramError) Unwrap() error { return e.err }

// scanPage calls scan from cursor until it has at least want elements or the
// cursor ends (at most 16 calls), and returns the next cursor or "".
func scanPage(ctx context.Context, cursor string, want int64, scan func(uint64) ([]string, uint64, error)) ([]string, string, error) {
	cur, err := uintCursor(cursor)
	if err != nil {
		return nil, "", err
	}
	var out []string
	for range 16 {
		page, next, err := scan(cur)
		if err != nil {
			return nil, "", err
		}
		out = append(out, page...)
		cur = next
		if cur == 0 || int64(len(out)) >= want || ctx.Err() != nil {
			break
		}
	}
	if cur == 0 {
		return out, "", nil
	}
	return out, strconv.FormatUint(cur, 10), nil
}

func uintCursor(cursor string) (uint64, error) {
	if cursor == "" {
		return 0, nil
	}
	n, err := strconv.ParseUint(cursor, 10, 64)
	if err != nil {
		return 0, badCursor(cursor)
	}
	return n, nil
}

func (p *Redis) readString(ctx context.Context, cl goredis.Cmdable, key []byte, cursor string, v *KeyView) error {
	off, err := offsetCursor(cursor)
	if err != nil {
		return err
	}
	size := int64(0)
	if v.Len != nil {
		size = *v.Len
	}
	window := int64(p.cfg.MaxValueBytes)
	s, err := cl.GetRange(ctx, string(key), off, off+window-1).Result()
	if err != nil {
		return err
	}
	b := []byte(s)
	sv := &StringValue{Size: size, Offset: off, Value: newBlob(b), Kind: "text", Truncated: off+int64(len(b)) < size}
	if sv.Truncated {
		v.Cursor = strconv.FormatInt(off+int64(len(b)), 10)
	}
	switch {
	case !utf8.Valid(b) || bytes.ContainsRune(b, 0):
		sv.Kind = "binary"
		sv.Hex = hexDump(b, 4096)
	case !sv.Truncated && off == 0 && json.Valid(b) && len(bytes.TrimSpace(b)) > 0 && (bytes.TrimSpace(b)[0] == '{' || bytes.TrimSpace(b)[0] == '['):
		var out bytes.Buffer
		if json.Indent(&out, b, "", "  ") == nil {
			sv.Kind = "json"
			sv.Pretty = out.String()
		}
	}
	v.String = sv
	return nil
}

// hexDump formats up to max bytes of b as hexdump -C does.
func hexDump(b []byte, max int) string {
	if len(b) > max {
		b = b[:max]
	}
	return hex.Dump(b)
}

func (p *Redis) readStream(ctx context.Context, cl goredis.Cmdable, k, cursor string, page int64, v *KeyView) error {
	start := "-"
	if cursor != "" {
		if !streamID(cursor) {
			return badCursor(cursor)
		}
		start = "(" + cursor
	}
	msgs, err := cl.XRangeN(ctx, k, start, "+", page).Result()
	if err != nil {
		return err
	}
	for _, m := range msgs {
		e := StreamEntry{ID: m.ID}
		for f, val := range m.Values {
			fb, vb := newBlob([]byte(f)), newBlob([]byte(fmt.Sprint(val)))
			e.Fields = append(e.Fields, Item{Field: &fb, Value: &vb})
		}
		sortItems(e.Fields)
		v.Entries = append(v.Entries, e)
	}
	if int64(len(msgs)) == page {
		v.Cursor = msgs[len(msgs)-1].ID
	}
	if cursor != "" {
		return nil
	}
	groups, err := cl.XInfoGroups(ctx, k).Result()
	if err != nil {
		return err
	}
	for _, g := range groups {
		sg := StreamGroup{Name: g.Name, Pending: g.Pending, LastDeliveredID: g.LastDeliveredID}
		cs, err := cl.XInfoConsumers(ctx, k, g.Name).Result()
		if err != nil {
			return err
		}
		for _, c := range cs {
			sg.Consumers = append(sg.Consumers, StreamConsumer{Name: c.Name, Pending: c.Pending, IdleMS: c.Idle.Milliseconds()})
		}
		v.Groups = append(v.Groups, sg)
	}
	return nil
}

func streamID(s string) bool {
	ms, seq, ok := strings.Cut(s, "-")
	if !ok {
		return false
	}
	_, err1 := strconv.ParseUint(ms, 10, 64)
	_, err2 := strconv.ParseUint(seq, 10, 64)
	return err1 == nil && err2 == nil
}

func sortItems(items []Item) {
	for i := 1; i < len(items); i++ {
		for j := i; j > 0 && items[j].Field.Text < items[j-1].Field.Text; j-- {
			items[j], items[j-1] = items[j-1], items[j]
		}
	}
}

// FieldPage is GET /api/redis/{conn}/key/fields: matches inside a hash,
// set or sorted set.
type FieldPage struct {
	Key    KeyInfo `json:"key"`
	Items  []Item  `json:"items"`
	Cursor string  `json:"cursor"`
}

// fields searches inside key by pattern until min matches, the end or the
// search budget.
func (p *Redis) fields(ctx context.Context, c *Conn, key []byte, pattern string, min int, cursor string) (*FieldPage, error) {
	cl := c.keys()
	infos := []KeyInfo{newKeyInfo(key, "", c.cluster != nil)}
	if err := c.describe(ctx, cl, infos, ""); err != nil {
		return nil, err
	}
	info := infos[0]
	if info.Type == "none" {
		return nil, fmt.Errorf("key %q: %w", display(key), errNoKey)
	}
	cur, err := uintCursor(cursor)
	if err != nil {
		return nil, err
	}
	if pattern == "" {
		pattern = "*"
	}
	k := string(key)
	count := int64(p.cfg.ScanCount)
	var scan func(uint64) ([]string, uint64, error)
	step := 1
	switch info.Type {
	case "hash":
		step = 2
		scan = func(c uint64) ([]string, uint64, error) { return cl.HScan(ctx, k, c, pattern, count).Result() }
	case "set":
		scan = func(c uint64) ([]string, uint64, error) { return cl.SScan(ctx, k, c, pattern, count).Result() }
	case "zset":
		step = 2
		scan = func(c uint64) ([]string, uint64, error) { return cl.ZScan(ctx, k, c, pattern, count).Result() }
	default:
		return nil, &paramError{name: "name", err: fmt.Errorf("field search works on a hash, set or zset, and %q is a %s", display(key), info.Type)}
	}
	until := time.Now().Add(p.cfg.SearchBudget.Std())
	out := &FieldPage{Key: info, Items: []Item{}}
	for {
		vals, next, err := scan(cur)
		if err != nil {
			return nil, err
		}
		for i := 0; i+step-1 < len(vals); i += step {
			a := newBlob([]byte(vals[i]))
			switch info.Type {
			case "hash":
				b := newBlob([]byte(vals[i+1]))
				out.Items = append(out.Items, Item{Field: &a, Value: &b})
			case "set":
				out.Items = append(out.Items, Item{Member: &a})
			case "zset":
				score, _ := strconv.ParseFloat(vals[i+1], 64)
				out.Items = append(out.Items, Item{Member: &a, Score: &score})
			}
		}
		cur = next
		if cur == 0 || len(out.Items) >= min || time.Now().After(until) || ctx.Err() != nil {
			break
		}
	}
	if cur != 0 {
		out.Cursor = strconv.FormatUint(cur, 10)
	}
	return out, nil
}
