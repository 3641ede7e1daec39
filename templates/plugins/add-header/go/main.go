// An Envoy HTTP filter plugin that adds a response header. Its name and value
// come from the plugin configuration (typed_config.config.configuration in
// envoy.yaml), for example:
//
//	{"header": "x-hello", "value": "world"}
//
// Built with the standard Go compiler:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
package main

import (
	"encoding/json"
	"errors"
	"strings"

	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm"
	"github.com/proxy-wasm/proxy-wasm-go-sdk/proxywasm/types"
)

// Used when the configuration is absent or leaves a key out (or empty).
const (
	defaultHeader = "x-envoywasm"
	defaultValue  = "hello from {{pluginName}}"
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
	// HTTP header names are case-insensitive and Envoy stores them in
	// lower case, so do the same to log what is actually sent.
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
	// added is the debug line of every request, made once here so that a
	// request formats nothing.
	added string
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
		proxywasm.LogCriticalf(`invalid plugin configuration %q: %v; expected JSON like {"header": "x-hello", "value": "world"}`, data, err)
		return types.OnPluginStartStatusFailed
	}
	p.cfg = cfg
	p.added = "added response header " + cfg.Header + ": " + cfg.Value
	proxywasm.LogInfof("plugin started: adding response header %s: %s", cfg.Header, cfg.Value)
	return types.OnPluginStartStatusOK
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	return &httpContext{cfg: p.cfg, added: p.added}
}

// httpContext is created for every HTTP request (stream). It only acts on
// the response: the defaults let the request through untouched.
type httpContext struct {
	types.DefaultHttpContext
	cfg   config
	added string
}

func (h *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) types.Action {
	if err := proxywasm.AddHttpResponseHeader(h.cfg.Header, h.cfg.Value); err != nil {
		proxywasm.LogErrorf("failed to add response header %s: %v", h.cfg.Header, err)
		return types.ActionContinue
	}
	// Per request, so at debug: `envoywasm up` shows it (wasm:debug), an
	// Envoy at its default level (info) drops it.
	proxywasm.LogDebug(h.added)
	return types.ActionContinue
}
