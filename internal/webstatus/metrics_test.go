package webstatus

import (
	"strings"
	"testing"
	"time"
)

func TestDocs(t *testing.T) {
	docs := Docs()
	seen := map[string]bool{}
	for _, d := range docs {
		if seen[d.Name] {
			t.Errorf("%s: documented twice", d.Name)
		}
		seen[d.Name] = true
		if d.Type != "counter" && d.Type != "gauge" {
			t.Errorf("%s: type %q", d.Name, d.Type)
		}
		if (d.Type == "counter") != strings.HasSuffix(d.Name, "_total") {
			t.Errorf("%s: a %s; only counters end in _total", d.Name, d.Type)
		}
		if base := strings.TrimSuffix(d.Name, "_total"); d.Unit != "" && !strings.HasSuffix(base, "_"+d.Unit) &&
			!strings.Contains(base, "_"+d.Unit+"_per_") {
			t.Errorf("%s: unit %s is not in the name", d.Name, d.Unit)
		}
		if len(d.Labels) == 0 || d.Labels[0] != "job" {
			t.Errorf("%s: labels %q do not start with job", d.Name, d.Labels)
		}
		if d.Help == "" || d.Source == "" || !strings.HasSuffix(d.Help, ".") {
			t.Errorf("%s: help %q, source %q", d.Name, d.Help, d.Source)
		}
	}
	if m := Metadata(); len(m) != len(docs) || m[MetricRequests].Type != "counter" || m[MetricUptime].Unit != "seconds" {
		t.Errorf("Metadata() has %d metrics, Docs() %d; %s: %+v", len(m), len(docs), MetricRequests, m[MetricRequests])
	}

	// Every documented metric comes out of some page: one of nginx, and one
	// of Apache with every field of apacheFields (Uptime without
	// ServerUptimeSeconds) and a balancer.
	var apache strings.Builder
	for _, f := range apacheFields {
		if f.text {
			apache.WriteString(f.name + ": x\n")
		} else if f.name != "ServerUptimeSeconds" {
			apache.WriteString(f.name + ": 1\n")
		}
	}
	apache.WriteString("ProxyBalancer[0]Name: b\nProxyBalancer[0]Worker[0]Name: w\nProxyBalancer[0]Worker[0]Status: Init Ok\n")
	for _, f := range balancerFields {
		apache.WriteString("ProxyBalancer[0]Worker[0]" + f.name + ": 1\n")
	}
	st, err := ParseApache([]byte(apache.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Unknown) > 0 {
		t.Errorf("unknown fields %q", st.Unknown)
	}
	now := time.Unix(0, 0)
	samples, _ := newScraper(t).Scrape(t.Context(), Target{Job: "x", Kind: Nginx, URL: refusedURL(t)}, now)
	samples = append(samples, st.Samples("a", now)...)
	samples = append(samples, NginxStatus{Version: "nginx/1"}.Samples("n", now)...)
	checkDocumented(t, samples)
	made := map[string]bool{}
	for _, s := range samples {
		made[s.Labels.Get("__name__")] = true
	}
	for _, d := range docs {
		if !made[d.Name] {
			t.Errorf("%s: documented, but no page gives it", d.Name)
		}
	}
}
