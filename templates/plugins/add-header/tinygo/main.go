// An Envoy HTTP filter plugin that adds a response header. Its name and value
// come from the plugin configuration (typed_config.config.configuration in
// envoy.yaml), for example:
//
//	{"header": "x-hello", "value": "world"}
//
// Built with TinyGo (this SDK does not support the standard Go compiler for
// the .wasm; plain `go test` works though):
//
//	tinygo build -o plugin.wasm -scheduler=none -target=wasi .
package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
	"github.com/tidwall/gjson"
)

// Used when the configuration is absent or leaves a key out (or empty).
const (
	defaultHeader = "x-envoywasm"
	defaultValue  = "hello from {{pluginName}}"
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
