/**
 * The kinds of stream context a plugin's source makes, read from its Go or
 * Rust files. `rootOnly` only when the source registers its root context with
 * the SDK itself and makes neither kind: a plugin on a wrapper library
 * (Higress's `wrapper.SetCtx`) makes its contexts out of sight.
 */
export interface StreamContexts {
  http: boolean;
  tcp: boolean;
  rootOnly: boolean;
}

// Go: a plugin context's New*Context methods, or the SDK's Set*Context shortcuts; Rust: the root context's hooks.
const TCP = /\bNewTcpContext\s*\(|\bSetTcpContext\s*\(|ContextType::StreamContext|\bset_stream_context\b|\bfn\s+create_stream_context\b/;
const HTTP = /\bNewHttpContext\s*\(|\bSetHttpContext\s*\(|ContextType::HttpContext|\bset_http_context\b|\bfn\s+create_http_context\b/;
const ROOT = /\bproxywasm\.(SetVMContext|SetPluginContext)\s*\(|\bset_root_context\b/;

export function streamContexts(sources: readonly string[]): StreamContexts {
  const code = sources.join("\n");
  const http = HTTP.test(code);
  const tcp = TCP.test(code);
  return { http, tcp, rootOnly: !http && !tcp && ROOT.test(code) };
}
