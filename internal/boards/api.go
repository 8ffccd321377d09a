package boards

import (
	"errors"
	"io"
	"net/http"

	"go.yaml.in/yaml/v3"

	"github.com/dandan-sre/dandan/internal/config"
	"github.com/dandan-sre/dandan/internal/httpapi"
)

// Mount registers the API and the pages.
func (b *Boards) Mount(m *httpapi.Mux) {
	m.API("GET /api/boards", httpapi.Viewer, b.apiList)
	m.API("GET /api/boards/{name}", httpapi.Viewer, b.apiGet)
	m.API("GET /api/boards/{name}/yaml", httpapi.Viewer, b.apiYAML)
	m.API("PUT /api/boards/{name}", httpapi.Operator, b.apiPut)
	m.API("DELETE /api/boards/{name}", httpapi.Operator, b.apiDelete)
	m.API("POST /api/boards/reload", httpapi.Operator, b.apiReload)
	m.API("GET /api/boards/{name}/rules", httpapi.Viewer, b.apiRules)
	b.alerts.Mount(m)
	b.mountPages(m)
}

// boardJSON is a board with where it comes from.
type boardJSON struct {
	*Board
	Source string `json:"source"`
}

func (b *Boards) apiList(w http.ResponseWriter, r *http.Request) error {
	out := []boardJSON{}
	for _, bd := range b.all(r.Context()) {
		out = append(out, boardJSON{bd, bd.source})
	}
	return httpapi.JSON(w, http.StatusOK, map[string]any{"boards": out})
}

func (b *Boards) apiGet(w http.ResponseWriter, r *http.Request) error {
	bd, err := b.board(r.Context(), r.PathValue("name"))
	if err != nil {
		return httpapi.NotFound("no board %q", r.PathValue("name"))
	}
	return httpapi.JSON(w, http.StatusOK, boardJSON{bd, bd.source})
}

// apiYAML exports a board as YAML, to keep in git or a boards folder.
func (b *Boards) apiYAML(w http.ResponseWriter, r *http.Request) error {
	bd, err := b.board(r.Context(), r.PathValue("name"))
	if err != nil {
		return httpapi.NotFound("no board %q", r.PathValue("name"))
	}
	out, err := yaml.Marshal(bd)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/yaml; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+bd.Name+`.yaml"`)
	_, err = w.Write(out)
	return err
}

// apiPut saves a board (YAML or JSON body) in the SQL store.
func (b *Boards) apiPut(w http.ResponseWriter, r *http.Request) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return httpapi.BadRequest("read body: %v", err)
	}
	bd, err := b.save(r, r.PathValue("name"), body)
	if err != nil {
		var le *config.LoadError
		if errors.As(err, &le) {
			return httpapi.BadRequest("%s", le.Error())
		}
		return err
	}
	if bd.Name != r.PathValue("name") {
		return httpapi.BadRequest("name: %q in the body, %q in the URL", bd.Name, r.PathValue("name"))
	}
	return httpapi.JSON(w, http.StatusOK, boardJSON{bd, bd.source})
}

func (b *Boards) apiDelete(w http.ResponseWriter, r *http.Request) error {
	if b.deps.SQL == nil {
		return httpapi.NotFound("no board %q in the SQL store", r.PathValue("name"))
	}
	if err := b.sql.delete(r.Context(), r.PathValue("name")); err != nil {
		if errors.Is(err, errNoBoard) {
			return httpapi.NotFound("no board %q in the SQL store (boards from the config, the folder or built in cannot be deleted here)", r.PathValue("name"))
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (b *Boards) apiReload(w http.ResponseWriter, r *http.Request) error {
	problems := b.reload()
	if problems == nil {
		problems = []string{}
	}
	return httpapi.JSON(w, http.StatusOK, map[string]any{"problems": problems})
}
