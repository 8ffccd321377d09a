package boards

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dandan-sre/dandan/internal/config"
)

// TestReload gives the running part a new section: the boards of the
// config and of the new folder take the place of the old ones, a board
// saved in the SQL store stays, the TV settings change, and what the
// alerting engine cannot change while running is named; a board file that
// does not load is skipped and named in the error.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	board := func(name string) string {
		return "name: " + name + "\npanels: [{title: Up, kind: stat, queries: [{expr: 'sum(up)'}]}]\n"
	}
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(dir, "old", "alpha.yaml"), board("alpha"))
	write(filepath.Join(dir, "new", "beta.yaml"), board("beta"))
	section := func(folder, boardName string, tvRefresh time.Duration, externalURL string) *Config {
		t.Helper()
		cfg := DefaultConfig()
		cfg.Folder = filepath.Join(dir, folder)
		var bd Board
		if err := config.DecodeDocument("board", []byte(board(boardName)), &bd); err != nil {
			t.Fatal(err)
		}
		cfg.Boards = []*Board{&bd}
		cfg.TV.Refresh = config.Duration(tvRefresh)
		cfg.Alerting.ExternalURL = externalURL
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	h := newHarness(t, section("old", "edge", 15*time.Second, ""))
	ctx := context.Background()
	var saved Board
	if err := config.DecodeDocument("board", []byte(board("saved")), &saved); err != nil {
		t.Fatal(err)
	}
	if err := h.b.sql.put(ctx, &saved, "tester"); err != nil {
		t.Fatal(err)
	}
	boards := func() []string {
		var names []string
		for _, bd := range h.b.all(ctx) {
			names = append(names, bd.Name+" "+bd.source)
		}
		return names
	}
	if got, want := boards(), []string{"edge config", "alpha folder " + filepath.Join(dir, "old", "alpha.yaml"), "saved ui"}; !slices.Equal(got, want) {
		t.Fatalf("boards at start: %q, want %q", got, want)
	}

	restart, err := h.b.Reload(ctx, section("new", "extra", 20*time.Second, "https://dandan.example.com/"))
	if err != nil || !slices.Equal(restart, []string{"alerting.external_url"}) {
		t.Fatalf("Reload: restart %v, err %v", restart, err)
	}
	if got, want := boards(), []string{"extra config", "beta folder " + filepath.Join(dir, "new", "beta.yaml"), "saved ui"}; !slices.Equal(got, want) {
		t.Errorf("boards after Reload: %q, want %q", got, want)
	}
	for name, want := range map[string]int{"edge": 404, "alpha": 404, "extra": 200, "beta": 200, "saved": 200} {
		if code, _ := h.get(t, "/api/boards/"+name, ""); code != want {
			t.Errorf("/api/boards/%s: %d, want %d", name, code, want)
		}
	}
	if code, page := h.get(t, "/tv/extra?tv=1", ""); code != 200 || !strings.Contains(page, `every 20s`) {
		t.Errorf("TV refresh after Reload: %d %s", code, page)
	}

	// A broken board file is skipped and named.
	bad := filepath.Join(dir, "new", "bad.yaml")
	write(bad, "name: bad\npanels: []\nbogus: 1\n")
	_, err = h.b.Reload(ctx, section("new", "extra", 20*time.Second, ""))
	if err == nil || !strings.Contains(err.Error(), "board not loaded: "+bad+":3:1: bogus: unknown key") {
		t.Errorf("Reload with a broken board file: %v", err)
	}
	if code, _ := h.get(t, "/api/boards/beta", ""); code != 200 {
		t.Errorf("/api/boards/beta after a broken file: %d", code)
	}
}
