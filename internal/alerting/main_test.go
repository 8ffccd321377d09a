package alerting

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/events"
	"github.com/dandan-sre/dandan/internal/metricstore"
	"github.com/dandan-sre/dandan/internal/sqlstore"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// amMessage mirrors Alertmanager's webhook payload
// (github.com/prometheus/alertmanager/notify/webhook.Message, whose
// *template.Data is embedded), to decode what receivers get.
type amMessage struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []amAlert         `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
}

// amAlert mirrors Alertmanager's template.Alert.
type amAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// receiver is a webhook that keeps what it receives.
type receiver struct {
	*httptest.Server
	mu   sync.Mutex // guards msgs, raw, auth
	msgs []amMessage
	raw  []map[string]json.RawMessage
	auth []string
}

func newReceiver(t *testing.T) *receiver {
	rc := &receiver{}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var raw map[string]json.RawMessage
		var msg amMessage
		b, err := io.ReadAll(r.Body)
		if err == nil {
			err = json.Unmarshal(b, &raw)
		}
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		strict := json.NewDecoder(bytes.NewReader(b))
		strict.DisallowUnknownFields()
		if err := strict.Decode(&msg); err != nil {
			t.Errorf("webhook payload is not Alertmanager's: %v: %s", err, b)
		}
		rc.mu.Lock()
		rc.msgs = append(rc.msgs, msg)
		rc.raw = append(rc.raw, raw)
		rc.auth = append(rc.auth, r.Header.Get("Authorization"))
		rc.mu.Unlock()
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) messages() []amMessage {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]amMessage(nil), rc.msgs...)
}

// env is a metric store, a SQL store with the event log, and rule files,
// in temporary directories.
type env struct {
	t      *testing.T
	store  *metricstore.Store
	db     *sqlstore.DB
	events *events.Store
	dir    string // rule files
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st, err := metricstore.Open(ctx, t.TempDir(), metricstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	db, err := sqlstore.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	evs := events.New(db, nil)
	if err := evs.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return &env{t: t, store: st, db: db, events: evs, dir: t.TempDir()}
}

// write writes a rule file and returns its path.
func (e *env) write(name, text string) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// set appends one sample of the series now.
func (e *env) set(v float64, nameValues ...string) {
	e.t.Helper()
	app := e.store.Appender(context.Background())
	if _, err := app.Append(0, metricstore.FromStrings(nameValues...), time.Now().UnixMilli(), v); err != nil {
		e.t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		e.t.Fatal(err)
	}
}

// engine starts an engine of cfg on the env, stopped when the test ends.
func (e *env) engine(cfg Config) *Engine {
	e.t.Helper()
	if cfg.Interval == 0 {
		cfg.Interval = config.Duration(200 * time.Millisecond)
	}
	eng, err := New(Options{Config: cfg, Metrics: e.store, Events: e.events, SQL: e.db, Registerer: prometheus.NewRegistry()})
	if err != nil {
		e.t.Fatal(err)
	}
	if err := eng.Start(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { stop(e.t, eng) })
	return eng
}

func stop(t *testing.T, eng *Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := eng.Stop(ctx); err != nil {
		t.Errorf("stop: %v", err)
	}
}
