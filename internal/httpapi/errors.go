package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
)

// ErrNotFound is returned (wrapped) by stores and handlers for a missing
// thing; the Mux answers it with 404.
var ErrNotFound = errors.New("not found")

// Error is an error with what the client is told: status, code and message.
// Err, when set, is logged and never sent.
type Error struct {
	Status int
	Code   string
	Msg    string
	Err    error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Msg + ": " + e.Err.Error()
	}
	return e.Msg
}

// Unwrap returns the logged cause.
func (e *Error) Unwrap() error { return e.Err }

// Codes used in error replies.
const (
	CodeBadRequest       = "bad_request"
	CodeUnauthorized     = "unauthorized"
	CodeForbidden        = "forbidden"
	CodeNotFound         = "not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeConflict         = "conflict"
	CodeTooLarge         = "too_large"
	CodeTooManyRequests  = "too_many_requests"
	CodeInternal         = "internal"
	CodeUnavailable      = "unavailable"
	CodeTimeout          = "timeout"
)

// BadParam reports a bad request field: 400 invalid parameter "name": err.
func BadParam(name string, err error) error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Msg: fmt.Sprintf("invalid parameter %q: %v", name, err)}
}

// BadRequest reports a bad request with a message for the client.
func BadRequest(format string, args ...any) error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// NotFound reports that what the request names does not exist.
func NotFound(format string, args ...any) error {
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Msg: fmt.Sprintf(format, args...)}
}

// Forbidden reports that the caller may not do this.
func Forbidden(format string, args ...any) error {
	return &Error{Status: http.StatusForbidden, Code: CodeForbidden, Msg: fmt.Sprintf(format, args...)}
}

// Unavailable reports that a dependency is down (503).
func Unavailable(msg string, cause error) error {
	return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Msg: msg, Err: cause}
}

// Reply is what a handler error becomes: what the client sees, and what is
// logged (nil when there is nothing worth logging).
func Reply(err error) (status int, body ErrorBody, logged error) {
	var e *Error
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &e):
		return e.Status, ErrorBody{Error: e.Msg, Code: e.Code}, e.Err
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, ErrorBody{Error: fmt.Sprintf("request body is larger than %d bytes", mbe.Limit), Code: CodeTooLarge}, nil
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, ErrorBody{Error: err.Error(), Code: CodeNotFound}, nil
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusServiceUnavailable, ErrorBody{Error: "timed out", Code: CodeTimeout}, err
	}
	return http.StatusInternalServerError, ErrorBody{Error: "internal error", Code: CodeInternal}, err
}

// ErrorBody is the shape of every JSON error reply.
type ErrorBody struct {
	Error     string `json:"error"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
}

// JSON writes v as the JSON reply with status.
func JSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("encode reply: %w", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteError writes the JSON error reply for err.
func WriteError(w http.ResponseWriter, r *http.Request, err error) (logged error) {
	status, body, logged := Reply(err)
	body.RequestID = RequestID(r.Context())
	_ = JSON(w, status, body)
	return logged
}
