// A tiny HTTP backend for trying out the plugin behind Envoy.
//
//	GET /hello  ->  200 "hola mundo :)"
//	anything else  ->  404
//
// Every request is logged as one line on stdout, with the x-request-id that
// Envoy adds, so it can be matched with the plugin's log lines.
package main

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// defaultPort is used when $PORT is not set.
const defaultPort = "{{backendPort}}"

func main() {
	log.SetOutput(os.Stdout)
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	port := os.Getenv("PORT")
	if port == "" {
		port = defaultPort
	}
	if err := run(net.JoinHostPort("127.0.0.1", port)); err != nil {
		log.Fatal(err)
	}
}

// run serves on addr until SIGINT or SIGTERM, then shuts down gracefully.
func run(addr string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, "hola mundo :)")
	})
	srv := &http.Server{Handler: logRequests(mux), ReadHeaderTimeout: 10 * time.Second}

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
