package redis

import (
	"strconv"
	"strings"
)

// InfoSection is one "# Section" of INFO with its fields in order.
type InfoSection struct {
	Name   string   `json:"name"`
	Fields []InfoKV `json:"fields"`
}

// InfoKV is one "key:value" line of INFO.
type InfoKV struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// parseInfo parses the reply of INFO: "# Section" headers and key:value
// lines; fields before any header go to a section named "".
func parseInfo(s string) []InfoSection {
	var out []InfoSection
	cur := -1
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			continue
		}
		if name, ok := strings.CutPrefix(line, "# "); ok {
			out = append(out, InfoSection{Name: strings.TrimSpace(name)})
			cur = len(out) - 1
			continue
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if cur < 0 {
			out = append(out, InfoSection{})
			cur = 0
		}
		out[cur].Fields = append(out[cur].Fields, InfoKV{Key: k, Value: v})
	}
	return out
}

// infoValue returns the value of key in sections, or "".
func infoValue(sections []InfoSection, key string) string {
	for _, s := range sections {
		for _, f := range s.Fields {
			if f.Key == key {
				return f.Value
			}
		}
	}
	return ""
}

// infoInt returns the integer value of key in sections, or 0.
func infoInt(sections []InfoSection, key string) int64 {
	n, _ := strconv.ParseInt(infoValue(sections, key), 10, 64)
	return n
}

// ClientInfo is one line of CLIENT LIST.
type ClientInfo struct {
	Node   string            `json:"node"`
	ID     int64             `json:"id"`
	Addr   string            `json:"addr"`
	Name   string            `json:"name"`
	Age    int64             `json:"age_s"`
	Idle   int64             `json:"idle_s"`
	Flags  string            `json:"flags"`
	DB     int64             `json:"db"`
	Cmd    string            `json:"cmd"`
	User   string            `json:"user"`
	Fields map[string]string `json:"fields"`
}

// parseClientList parses the reply of CLIENT LIST: one client a line, each
// a list of key=value pairs separated by spaces.
func parseClientList(s string) []ClientInfo {
	var out []ClientInfo
	for line := range strings.Lines(s) {
		line = strings.TrimRight(line, "\r\n")
		if strings.TrimSpace(line) == "" {
			continue
		}
		c := ClientInfo{Fields: map[string]string{}}
		for _, kv := range strings.Fields(line) {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				continue
			}
			c.Fields[k] = v
			switch k {
			case "id":
				c.ID, _ = strconv.ParseInt(v, 10, 64)
			case "addr":
				c.Addr = v
			case "name":
				c.Name = v
			case "age":
				c.Age, _ = strconv.ParseInt(v, 10, 64)
			case "idle":
				c.Idle, _ = strconv.ParseInt(v, 10, 64)
			case "flags":
				c.Flags = v
			case "db":
				c.DB, _ = strconv.ParseInt(v, 10, 64)
			case "cmd":
				c.Cmd = v
			case "user":
				c.User = v
			}
		}
		out = append(out, c)
	}
	return out
}

// SlotRange is an inclusive range of hash slots.
type SlotRange struct {
	From int `json:"from"`
	To   int `json:"to"`
}

// ClusterNode is one line of CLUSTER NODES.
type ClusterNode struct {
	ID          string      `json:"id"`
	Addr        string      `json:"addr"`
	Hostname    string      `json:"hostname,omitempty"`
	Flags       []string    `json:"flags"`
	Role        string      `json:"role"` // master or replica
	MasterID    string      `json:"master_id,omitempty"`
	PingSent    int64       `json:"ping_sent"`
	PongRecv    int64       `json:"pong_recv"`
	ConfigEpoch int64       `json:"config_epoch"`
	LinkState   string      `json:"link_state"`
	Slots       []SlotRange `json:"slots"`
	// Migrating and Importing are known only for the node that answered
	// (the one flagged myself): slot → the other node's ID.
	Migrating map[int]string `json:"migrating,omitempty"`
	Importing map[int]string `json:"importing,omitempty"`
	Myself    bool           `json:"myself"`
	Failing   bool           `json:"failing"` // fail or pfail
}

// SlotCount returns how many slots the node serves.
func (n *ClusterNode) SlotCount() int {
	c := 0
	for _, r := range n.Slots {
		c += r.To - r.From + 1
	}
	return c
}

// parseClusterNodes parses the reply of CLUSTER NODES. Lines that do not
// have the eight leading fields are skipped.
func parseClusterNodes(s string) []ClusterNode {
	var out []ClusterNode
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		n := ClusterNode{ID: f[0], LinkState: f[7]}
		addr, host, _ := strings.Cut(f[1], ",")
		addr, _, _ = strings.Cut(addr, "@")
		n.Addr, n.Hostname = addr, host
		n.Flags = strings.Split(f[2], ",")
		n.Role = "master"
		for _, fl := range n.Flags {
			switch fl {
			case "myself":
				n.Myself = true
			case "slave":
				n.Role = "replica"
			case "fail", "pfail", "fail?":
				n.Failing = true
			}
		}
		if f[3] != "-" {
			n.MasterID = f[3]
		}
		n.PingSent, _ = strconv.ParseInt(f[4], 10, 64)
		n.PongRecv, _ = strconv.ParseInt(f[5], 10, 64)
		n.ConfigEpoch, _ = strconv.ParseInt(f[6], 10, 64)
		for _, sl := range f[8:] {
			if inner, ok := strings.CutPrefix(sl, "["); ok {
				inner = strings.TrimSuffix(inner, "]")
				if slot, id, ok := strings.Cut(inner, "->-"); ok {
					if v, err := strconv.Atoi(slot); err == nil && validSlot(v) {
						if n.Migrating == nil {
							n.Migrating = map[int]string{}
						}
						n.Migrating[v] = id
					}
				} else if slot, id, ok := strings.Cut(inner, "-<-"); ok {
					if v, err := strconv.Atoi(slot); err == nil && validSlot(v) {
						if n.Importing == nil {
							n.Importing = map[int]string{}
						}
						n.Importing[v] = id
					}
				}
				continue
			}
			lo, hi, isRange := strings.Cut(sl, "-")
			a, err := strconv.Atoi(lo)
			if err != nil || !validSlot(a) {
				continue
			}
			b := a
			if isRange {
				if b, err = strconv.Atoi(hi); err != nil || !validSlot(b) || b < a {
					continue
				}
			}
			n.Slots = append(n.Slots, SlotRange{From: a, To: b})
		}
		out = append(out, n)
	}
	return out
}

func validSlot(s int) bool { return s >= 0 && s < slots }
