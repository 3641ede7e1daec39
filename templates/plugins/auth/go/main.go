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
	proxywasm.LogInfof("plugin started: requests need header %s", cfg.Header)
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{cfg: p.cfg}
}

// httpContext is created for every HTTP request (stream).
type httpContext struct {
	types.DefaultHttpContext
	cfg config
}

func (h *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) types.Action {
	headers, err := proxywasm.GetHttpRequestHeaders()
	if err != nil {
		// Fail closed: with no headers the request is denied below.
		proxywasm.LogErrorf("failed to get request headers: %v", err)
	}

	requestID, secret, found := "-", "", false
	for i, kv := range headers {
		switch kv[0] {
		case h.cfg.Header:
			if !found { // like GetHttpRequestHeader, use the first one
				secret, found = kv[1], true
			}
			headers[i][1] = "<redacted>" // keep the secret out of Envoy's log
		case "x-request-id":
			requestID = kv[1]
		}
	}
	// The whole header list in ONE log line, like the headers template.
	proxywasm.LogInfof("request headers: %v", headers)

	switch {
	case !found:
		return h.deny("missing "+h.cfg.Header+" header", requestID)
	// ConstantTimeCompare takes as long for a nearly right secret as for a
	// wrong one, so response times do not leak how much of it was guessed.
	case subtle.ConstantTimeCompare([]byte(secret), []byte(h.cfg.Value)) != 1:
		return h.deny("wrong "+h.cfg.Header+" header value", requestID)
	}
	proxywasm.LogInfof("allowed (request id %s)", requestID)
	return types.ActionContinue
}

// deny answers the request with 403 right away. The request is not sent to
// the backend; ActionPause stops Envoy from processing it further.
func (h *httpContext) deny(reason, requestID string) types.Action {
	proxywasm.LogInfof("denied: %s (request id %s)", reason, requestID)
	body := "forbidden: missing or wrong " + h.cfg.Header + "\n"
	headers := [][2]string{{"content-type", "text/plain"}}
	if err := proxywasm.SendHttpResponse(403, headers, []byte(body), -1); err != nil {
		proxywasm.LogErrorf("failed to send the 403 response: %v", err)
	}
	return types.ActionPause
}
