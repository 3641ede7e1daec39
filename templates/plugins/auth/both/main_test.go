// Unit tests run with the SDK's host emulator (proxytest), no Envoy needed:
//
//	go test ./...
//
// Each test runs twice: against the Go code directly ("go") and against the
// compiled .wasm ("wasm"), which is what Envoy actually loads. `envoywasm test`
// builds the plugin and runs both; a plain `go test` skips the wasm run.

package main

import (
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"{{sdkModule}}/proxywasm/proxytest"
	"{{sdkModule}}/proxywasm/types"
)

// newHost starts the plugin with the given configuration (nil: none).
func newHost(t *testing.T, vm types.VMContext, configuration []byte) (proxytest.HostEmulator, func()) {
	t.Helper()
	opt := proxytest.NewEmulatorOption().WithVMContext(vm)
	if configuration != nil {
		opt = opt.WithPluginConfiguration(configuration)
	}
	host, reset := proxytest.NewHostEmulator(opt)
	require.Equal(t, types.OnPluginStartStatusOK, host.StartPlugin())
	return host, reset
}

func request(extra ...[2]string) [][2]string {
	return append([][2]string{
		{":method", "GET"},
		{":path", "/hello"},
		{"x-request-id", "req-1"},
	}, extra...)
}

func TestAllowsRightSecret(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host, reset := newHost(t, vm, []byte(`{"header": "X-Token", "value": "s3cret"}`))
		defer reset()

		id := host.InitializeHttpContext()
		action := host.CallOnRequestHeaders(id, request([2]string{"x-token", "s3cret"}), true)

		require.Equal(t, types.ActionContinue, action)
		require.Nil(t, host.GetSentLocalResponse(id), "no local response: the request goes on to the backend")
		require.Contains(t, host.GetDebugLogs(), "allowed")
		// At info, only the start: an allowed request logs nothing an Envoy at its default level shows.
		require.Equal(t, []string{"plugin started: requests need header x-token"}, host.GetInfoLogs())
	})
}

func TestDeniesMissingOrWrongSecret(t *testing.T) {
	for name, tc := range map[string]struct {
		configuration []byte
		extra         [][2]string
		reason        string
	}{
		"missing header": {
			configuration: []byte(`{"header": "x-token", "value": "s3cret"}`),
			reason:        "denied: missing x-token header (request id req-1)",
		},
		"wrong value": {
			configuration: []byte(`{"header": "x-token", "value": "s3cret"}`),
			extra:         [][2]string{{"x-token", "s3cre"}},
			reason:        "denied: wrong x-token header value (request id req-1)",
		},
		"secret in another header": {
			configuration: []byte(`{"header": "x-token", "value": "s3cret"}`),
			extra:         [][2]string{{"x-api-key", "s3cret"}},
			reason:        "denied: missing x-token header (request id req-1)",
		},
		"default header, wrong value": {
			extra:  [][2]string{{"x-api-key", "let-me-out"}},
			reason: "denied: wrong x-api-key header value (request id req-1)",
		},
	} {
		t.Run(name, func(t *testing.T) {
			vmTest(t, func(t *testing.T, vm types.VMContext) {
				host, reset := newHost(t, vm, tc.configuration)
				defer reset()

				id := host.InitializeHttpContext()
				action := host.CallOnRequestHeaders(id, request(tc.extra...), true)

				require.Equal(t, types.ActionPause, action)
				resp := host.GetSentLocalResponse(id)
				require.NotNil(t, resp, "expected a local 403 response")
				require.Equal(t, uint32(403), resp.StatusCode)
				require.Contains(t, resp.Headers, [2]string{"content-type", "text/plain"})
				header := defaultHeader
				if tc.configuration != nil {
					header = "x-token"
				}
				require.Equal(t, "forbidden: missing or wrong "+header+"\n", string(resp.Data))
				require.Contains(t, host.GetInfoLogs(), tc.reason)
			})
		})
	}
}

func TestDefaultSecret(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host, reset := newHost(t, vm, nil)
		defer reset()

		id := host.InitializeHttpContext()
		action := host.CallOnRequestHeaders(id, request([2]string{"x-api-key", "let-me-in"}), true)

		require.Equal(t, types.ActionContinue, action)
		require.Nil(t, host.GetSentLocalResponse(id))
	})
}

func TestNeverLogsTheSecret(t *testing.T) {
	vmTest(t, func(t *testing.T, vm types.VMContext) {
		host, reset := newHost(t, vm, nil)
		defer reset()

		for _, key := range []string{"let-me-in", "let-me-inn"} {
			id := host.InitializeHttpContext()
			host.CallOnRequestHeaders(id, request([2]string{"x-api-key", key}), true)
		}

		require.Contains(t, host.GetInfoLogs(), "denied: wrong x-api-key header value (request id req-1)")
		for _, logs := range [][]string{host.GetTraceLogs(), host.GetDebugLogs(), host.GetInfoLogs(), host.GetWarnLogs(), host.GetErrorLogs(), host.GetCriticalLogs()} {
			for _, l := range logs {
				require.NotContains(t, l, "let-me-in")
			}
		}
	})
}

func TestInvalidConfigurationFailsPluginStart(t *testing.T) {
	for name, configuration := range map[string]string{
		"not JSON":           `{"value": "s3cret"`,
		"not an object":      `["x-api-key", "s3cret"]`,
		"value not a string": `{"value": 12345}`,
	} {
		t.Run(name, func(t *testing.T) {
			vmTest(t, func(t *testing.T, vm types.VMContext) {
				opt := proxytest.NewEmulatorOption().
					WithVMContext(vm).
					WithPluginConfiguration([]byte(configuration))
				host, reset := proxytest.NewHostEmulator(opt)
				defer reset()

				require.Equal(t, types.OnPluginStartStatusFailed, host.StartPlugin())
				logs := host.GetCriticalLogs()
				require.Len(t, logs, 1)
				require.Contains(t, logs[0], "invalid plugin configuration")
				require.NotContains(t, logs[0], "s3cret")
			})
		})
	}
}

// vmTest runs f twice: as subtest "go" with the plugin's VMContext called
// directly, and as subtest "wasm" with the compiled plugin loaded in a Wasm
// runtime. The .wasm path is $ENVOYWASM_WASM, which `envoywasm test` sets.
func vmTest(t *testing.T, f func(*testing.T, types.VMContext)) {
	t.Helper()

	t.Run("go", func(t *testing.T) {
		f(t, &vmContext{})
	})

	t.Run("wasm", func(t *testing.T) {
		path := os.Getenv("ENVOYWASM_WASM")
		if path == "" {
			t.Skip("ENVOYWASM_WASM is not set: `envoywasm test` builds the plugin and tests the compiled module too")
		}
		wasm, err := os.ReadFile(path)
		require.NoError(t, err)

		vm, err := proxytest.NewWasmVMContext(wasm)
		require.NoError(t, err)
		defer vm.Close()
		f(t, vm)
	})
}
