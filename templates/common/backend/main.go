// A small HTTP backend to try the plugin against, behind Envoy. Endpoints
// (any method unless noted):
//
//	GET /hello        200 "hola mundo :)"
//	GET /get          httpbin's JSON: args, headers, origin, url
//	POST /post        httpbin's JSON: args, data, form, headers, json, origin, url
//	PUT /put, PATCH /patch, DELETE /delete: the same as POST /post
//	GET /ip           {"origin": ...}
//	GET /user-agent   {"user-agent": ...}
//	GET /bytes/<n>    n random bytes (at most 100 KiB), application/octet-stream
//	/anything[/...]   echoes method, path, query, headers and body as JSON
//	/headers          the request headers as JSON
//	/uuid             a random UUID as JSON
//	/status/<code>    answers with that status code
//	/delay/<ms>       waits <ms> milliseconds (at most 60 s), then answers 200
//	anything else     200 "ok"
//
// Header names in the JSON are lower-case, as Envoy sends them.
//
// Every request is logged as one line on stdout, with the x-request-id that
// Envoy adds, so it can be matched with the plugin's log lines.
//
// The port comes from $PORT (envoywasm sets it from the backend's cluster in
// envoy.yaml) and the address from $HOST (default 127.0.0.1).
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"
)

func main() {
	log.SetOutput(os.Stdout)
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	host := os.Getenv("HOST")
	if host == "" {
		host = "127.0.0.1"
	}
	port := os.Getenv("PORT")
	if port == "" {
		log.Fatal("PORT is not set: envoywasm up sets it from the backend's cluster in envoy.yaml")
	}
	if err := run(net.JoinHostPort(host, port)); err != nil {
		log.Fatal(err)
	}
}

// run serves on addr until SIGINT or SIGTERM, then shuts down gracefully.
func run(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	srv := &http.Server{Handler: logRequests(routes()), ReadHeaderTimeout: 10 * time.Second}

	// Listen first so "listening on" is only logged once connections are accepted.
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	log.Printf("listening on %s", ln.Addr())

	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Printf("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Printf("stopped")
	return nil
}

func routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "hola mundo :)")
	})
	mux.HandleFunc("GET /get", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"args": flat(r.URL.Query()), "headers": headers(r), "origin": origin(r), "url": fullURL(r)})
	})
	for _, method := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		mux.HandleFunc(method+" /"+strings.ToLower(method), withBody)
	}
	mux.HandleFunc("GET /ip", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"origin": origin(r)})
	})
	mux.HandleFunc("GET /user-agent", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"user-agent": r.UserAgent()})
	})
	mux.HandleFunc("GET /bytes/{n}", func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(r.PathValue("n"))
		if err != nil || n < 0 {
			http.Error(w, "the byte count must be a whole number", http.StatusBadRequest)
			return
		}
		b := make([]byte, min(n, 100<<10)) // httpbin's cap
		_, _ = rand.Read(b)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/anything", anything)
	mux.HandleFunc("/anything/", anything)
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]any{"headers": headers(r)})
	})
	mux.HandleFunc("/uuid", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"uuid": newUUID()})
	})
	mux.HandleFunc("/status/{code}", func(w http.ResponseWriter, r *http.Request) {
		code, err := strconv.Atoi(r.PathValue("code"))
		if err != nil || code < 100 || code > 599 {
			http.Error(w, "status code must be a number from 100 to 599", http.StatusBadRequest)
			return
		}
		w.WriteHeader(code)
	})
	mux.HandleFunc("/delay/{ms}", func(w http.ResponseWriter, r *http.Request) {
		ms, err := strconv.Atoi(r.PathValue("ms"))
		if err != nil || ms < 0 {
			http.Error(w, "delay must be a number of milliseconds", http.StatusBadRequest)
			return
		}
		delay := min(time.Duration(ms)*time.Millisecond, 60*time.Second)
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"delayed_ms": delay.Milliseconds()})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "ok")
	})
	return mux
}

// anything echoes the request back as JSON.
func anything(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"method":  r.Method,
		"path":    r.URL.Path,
		"query":   r.URL.Query(),
		"headers": headers(r),
		"body":    string(body),
	})
}

// withBody answers like httpbin's /post, /put, /patch and /delete.
func withBody(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	data, form := string(body), map[string]any{}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		values, _ := url.ParseQuery(data)
		data, form = "", flat(values)
	} else if !utf8.Valid(body) {
		data = "data:application/octet-stream;base64," + base64.StdEncoding.EncodeToString(body)
	}
	var parsed any // null unless the body is JSON
	if json.Valid(body) {
		parsed = json.RawMessage(body)
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"args":    flat(r.URL.Query()),
		"data":    data,
		"form":    form,
		"headers": headers(r),
		"json":    parsed,
		"origin":  origin(r),
		"url":     fullURL(r),
	})
}

// flat gives a value once as a string, and a repeated one as a list, as httpbin does.
func flat(values url.Values) map[string]any {
	out := make(map[string]any, len(values))
	for k, v := range values {
		if len(v) == 1 {
			out[k] = v[0]
		} else {
			out[k] = v
		}
	}
	return out
}

// origin is the client's address: Envoy's x-forwarded-for if set, else the peer's.
func origin(r *http.Request) string {
	if xff := r.Header.Get("X-Forwarded-For"); xff != "" {
		return xff
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// fullURL is the URL the client asked for, with the scheme Envoy saw.
func fullURL(r *http.Request) string {
	scheme := r.Header.Get("X-Forwarded-Proto")
	if scheme == "" {
		scheme = "http"
	}
	return scheme + "://" + r.Host + r.URL.RequestURI()
}

// headers flattens the request headers, lower-cased as Envoy sends them.
func headers(r *http.Request) map[string]string {
	out := map[string]string{"host": r.Host}
	for name, values := range r.Header {
		out[http.CanonicalHeaderKey(name)] = values[0]
		if len(values) > 1 {
			b, _ := json.Marshal(values)
			out[http.CanonicalHeaderKey(name)] = string(b)
		}
	}
	lower := make(map[string]string, len(out))
	for k, v := range out {
		lower[toLower(k)] = v
	}
	return lower
}

func toLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // a URL's & stays &, as httpbin writes it
	_ = enc.Encode(v)
}

// logRequests logs each request as one line once it has been answered.
func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		requestID := r.Header.Get("X-Request-Id")
		if requestID == "" {
			requestID = "-"
		}
		log.Printf("%s %s status=%d duration=%.3fms x-request-id=%s", r.Method, r.URL.RequestURI(),
			rec.status, float64(time.Since(start).Microseconds())/1000, requestID)
	})
}

// statusRecorder remembers the status code written by the handler.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
