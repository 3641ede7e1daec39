// An Envoy HTTP filter plugin that only lets requests through when they carry
// a shared secret in a header. Header and secret come from the plugin
// configuration (typed_config.config.configuration in envoy.yaml), e.g.:
//
//	{"header": "x-api-key", "value": "s3cret"}
//
// Other requests are answered with 403 by Envoy, never reaching the backend.
//
// Built with TinyGo (this SDK does not support the standard Go compiler for
// the .wasm; plain `go test` works though):
//
//	tinygo build -o plugin.wasm -scheduler=none -target=wasi .
package main

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tidwall/gjson"
)

// Used when the configuration is absent or leaves a key out (or empty).
// Configure your own secret for anything but a demo.
const (
	defaultHeader = "x-api-key"
	defaultValue  = "let-me-in"
)

// main registers the plugin with the proxy-wasm host. This SDK requires it
// to happen in main: Envoy runs main when it starts the Wasm VM.
func main() {
	proxywasm.SetVMContext(&vmContext{})
}

// config is the plugin configuration.
type config struct {
	Header string
	Value  string
}

// parseConfig parses the JSON configuration, filling in the defaults. It
// uses gjson because TinyGo's reflection is too limited for encoding/json.
func parseConfig(data []byte) (config, error) {
	var cfg config
	if len(strings.TrimSpace(string(data))) > 0 {
		if !gjson.ValidBytes(data) {
			return cfg, errors.New("not valid JSON")
		}
		root := gjson.ParseBytes(data)
		if !root.IsObject() && root.Type != gjson.Null {
			return cfg, errors.New("not a JSON object")
		}
		var err error
		if cfg.Header, err = stringField(root, "header"); err != nil {
			return cfg, err
		}
		if cfg.Value, err = stringField(root, "value"); err != nil {
			return cfg, err
		}
	}
	// Envoy hands header names to plugins in lower case.
	cfg.Header = strings.ToLower(strings.TrimSpace(cfg.Header))
	if cfg.Header == "" {
		cfg.Header = defaultHeader
	}
	if cfg.Value == "" {
		cfg.Value = defaultValue
	}
	return cfg, nil
}

// stringField returns the string at key, or "" if the key is absent or null.
func stringField(root gjson.Result, key string) (string, error) {
	switch v := root.Get(key); v.Type {
	case gjson.Null:
		return "", nil
	case gjson.String:
		return v.Str, nil
	}
	return "", fmt.Errorf("%q must be a string", key)
}

// vmContext is created once per Wasm VM (one per Envoy worker thread).
type vmContext struct {
	// Embedding the defaults means we only implement what we need.
	types.DefaultVMContext
}

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{}
}

// pluginContext is created once per plugin configuration.
type pluginContext struct {
	types.DefaultPluginContext
	cfg config
	// The secret as bytes, and what a denied request gets: made once here,
	// so that a request converts and formats nothing unless it is denied.
	missing, wrong   string
	value, forbidden []byte
}

// OnPluginStart reads the configuration. It is the only place where
// GetPluginConfiguration works; returning OnPluginStartStatusFailed makes
// Envoy reject the configuration instead of running a misconfigured plugin.
func (p *pluginContext) OnPluginStart(pluginConfigurationSize int) types.OnPluginStartStatus {
	data, err := proxywasm.GetPluginConfiguration()
	if err != nil && !errors.Is(err, types.ErrorStatusNotFound) { // not found: no configuration
		proxywasm.LogCriticalf("failed to read the plugin configuration: %v", err)
		return types.OnPluginStartStatusFailed
	}
	cfg, err := parseConfig(data)
	if err != nil {
		// Unlike add-header, do not log the configuration: it holds the secret.
		proxywasm.LogCriticalf(`invalid plugin configuration: %v; expected JSON like {"header": "x-api-key", "value": "<secret>"}`, err)
		return types.OnPluginStartStatusFailed
	}
	p.cfg = cfg
	p.missing = "denied: missing " + cfg.Header + " header"
	p.wrong = "denied: wrong " + cfg.Header + " header value"
	p.value = []byte(cfg.Value)
	p.forbidden = []byte("forbidden: missing or wrong " + cfg.Header + "\n")
	proxywasm.LogInfof("plugin started: requests need header %s", cfg.Header)
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{plugin: p}
}

// httpContext is created for every HTTP request (stream).
type httpContext struct {
	types.DefaultHttpContext
	plugin *pluginContext
}

func (h *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	p := h.plugin
	// Like any header read, this gives the first one of that name.
	secret, err := proxywasm.GetHttpRequestHeader(p.cfg.Header)
	if err != nil && !errors.Is(err, types.ErrorStatusNotFound) {
		// Fail closed: the request is denied below.
		proxywasm.LogErrorf("failed to get request header %s: %v", p.cfg.Header, err)
	}
	switch {
	case err != nil:
		return h.deny(p.missing)
	// ConstantTimeCompare takes as long for a nearly right secret as for a
	// wrong one, so response times do not leak how much of it was guessed.
	case subtle.ConstantTimeCompare([]byte(secret), p.value) != 1:
		return h.deny(p.wrong)
	}
	// Per request, so at debug: `envoywasm up` shows it (wasm:debug), an
	// Envoy at its default level (info) drops it.
	proxywasm.LogDebug("allowed")
	return types.ActionContinue
}

// deny answers the request with 403 right away, and says so at info: a
// decision worth a line in any log. The request is not sent to the backend;
// ActionPause stops Envoy from processing it further.
func (h *httpContext) deny(reason string) types.Action {
	requestID, err := proxywasm.GetHttpRequestHeader("x-request-id")
	if err != nil || requestID == "" {
		requestID = "-"
	}
	proxywasm.LogInfo(reason + " (request id " + requestID + ")")
	headers := [][2]string{{"content-type", "text/plain"}}
	if err := proxywasm.SendHttpResponse(403, headers, h.plugin.forbidden, -1); err != nil {
		proxywasm.LogErrorf("failed to send the 403 response: %v", err)
	}
	return types.ActionPause
}
