// An Envoy HTTP filter plugin that only lets requests through when they carry
// a shared secret in a header. Header and secret come from the plugin
// configuration (typed_config.config.configuration in envoy.yaml), e.g.:
//
//	{"header": "x-api-key", "value": "s3cret"}
//
// Other requests are answered with 403 by Envoy, never reaching the backend.
//
// Built with the standard Go compiler:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
package main

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Used when the configuration is absent or leaves a key out (or empty).
// Configure your own secret for anything but a demo.
const (
	defaultHeader = "x-api-key"
	defaultValue  = "let-me-in"
)

// main is never called: a c-shared module only runs its init functions.
func main() {}

// init registers the plugin with the proxy-wasm host. With the standard Go
// compiler this must happen in init, because Envoy never calls main.
func init() {
	proxywasm.SetVMContext(&vmContext{})
}

// config is the plugin configuration.
type config struct {
	Header string `json:"header"`
	Value  string `json:"value"`
}

// parseConfig parses the JSON configuration, filling in the defaults.
func parseConfig(data []byte) (config, error) {
	var cfg config
	if len(strings.TrimSpace(string(data))) > 0 {
		if err := json.Unmarshal(data, &cfg); err != nil {
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
