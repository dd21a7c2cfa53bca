/**
 * The Open Inference Protocol (KServe v2, "REST/HTTP API"), which Triton,
 * KServe, Seldon MLServer and OpenVINO Model Server speak, over the ONNX
 * engine: health (`GET /v2/health/live`, `/v2/health/ready`), server and
 * model metadata (`GET /v2`, `/v2/models/{name}`, `/v2/models/{name}/ready`)
 * and inference (`POST /v2/models/{name}/infer`, JSON tensors, and the
 * binary tensor extension: `Inference-Header-Content-Length: N`, the first N
 * bytes a JSON header, each binary tensor's little-endian bytes after it in
 * input order, sized by its `parameters.binary_data_size`). Errors take
 * the protocol's shape, `{"error": "<message>"}`, and a message names the
 * model's input at fault — never a value of the request. The routes are
 * served by the same handler as the OpenAI ones: same limits, access rules,
 * sealed channel, logs and metrics.
 */
import { type OnnxEngine, OnnxEngineError } from "../engine/onnx/onnx-engine.js";
import { BinaryData, outputBytes, outputJson, TensorError, type TensorLimits } from "../engine/onnx/tensors.js";
import { parseJsonObject } from "./body.js";
import type { Route, RouteContext } from "./router.js";

/** The server's name and the protocol's version in `GET /v2`. */
const SERVER = Object.freeze({ name: "veritee", version: "0.1.0", extensions: [] as string[] });
/** Models have one version here: the measured file. */
const VERSION = "1";
/** A request id echoed back: only one that looks like an id (a request's text never comes back as-is). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

function v2Error(ctx: RouteContext, status: number, message: string): void {
  ctx.sendJson(status, { error: message });
}

/** The binary extension's header field. */
const HEADER_LENGTH = "inference-header-content-length";

class RequestError extends Error {}

/**
 * Split a binary-extension body into its JSON header and the tensors' bytes:
 * each input with `parameters.binary_data_size` takes its bytes, in order;
 * nothing may be left over.
 */
function binaryRequest(body: Buffer, headerLength: string): Record<string, unknown> {
  if (!/^\d{1,10}$/.test(headerLength) || Number(headerLength) > body.length) {
    throw new RequestError(`${HEADER_LENGTH} must be the length of the JSON header, within the body`);
  }
  const split = Number(headerLength);
  const header = parseJsonObject(body.subarray(0, split));
  let at = split;
  if (Array.isArray(header.inputs)) {
    header.inputs = header.inputs.map((input: unknown) => {
      const p = (input as { parameters?: { binary_data_size?: unknown } } | null)?.parameters;
      if (p?.binary_data_size === undefined) return input;
      const size = p.binary_data_size;
      if (!Number.isSafeInteger(size) || (size as number) < 0 || at + (size as number) > body.length) {
        throw new RequestError("an input's binary_data_size runs past the body");
      }
      if ((input as { data?: unknown }).data !== undefined)
        throw new RequestError("an input has both data and binary data");
      const bytes = body.subarray(at, at + (size as number));
      at += size as number;
      return { ...(input as object), data: new BinaryData(bytes) };
    });
  }
  if (at !== body.length) throw new RequestError("bytes follow the last binary tensor");
  return header;
}

/** The routes of the protocol over `engine`. */
export function inferenceProtocolRoutes(engine: OnnxEngine, limits: TensorLimits = {}): Route[] {
  const model = (ctx: RouteContext) => {
    const found = engine.model(ctx.params.name!);
    if (!found) v2Error(ctx, 404, "no such model");
    return found;
  };
  return [
    {
      method: "GET",
      path: "/v2/health/live",
      public: true,
      handler: (_q, _s, ctx) => ctx.sendJson(200, { live: true }),
    },
    {
      method: "GET",
      path: "/v2/health/ready",
      public: true,
      handler: (_q, _s, ctx) => ctx.sendJson(200, { ready: true }),
    },
    { method: "GET", path: "/v2", handler: (_q, _s, ctx) => ctx.sendJson(200, SERVER) },
    {
      method: "GET",
      path: "/v2/models/{name}",
      handler: (_q, _s, ctx) => {
        const m = model(ctx);
        if (!m) return;
        ctx.sendJson(200, {
          name: m.name,
          versions: [VERSION],
          platform: "onnxruntime_onnx",
          // The measured file: what a client's policy pins.
          parameters: { sha256: m.sha256 },
          inputs: m.inputs,
          outputs: m.outputs,
        });
      },
    },
    {
      method: "GET",
      path: "/v2/models/{name}/ready",
      handler: (_q, _s, ctx) => {
        if (model(ctx)) ctx.sendJson(200, { name: ctx.params.name, ready: true });
      },
    },
    {
      method: "POST",
      path: "/v2/models/{name}/infer",
      limited: true,
      handler: async (req, sink, ctx) => {
        const m = model(ctx);
        if (!m) return;
        const headerLength = req.headers[HEADER_LENGTH];
        let body: Record<string, unknown>;
        try {
          body =
            typeof headerLength === "string"
              ? binaryRequest(await ctx.readBytes(), headerLength)
              : await ctx.readJson();
        } catch (error) {
          if (error instanceof RequestError) return v2Error(ctx, 400, error.message);
          throw error;
        }
        for (const key of Object.keys(body)) {
          if (!["id", "inputs", "outputs", "parameters"].includes(key))
            return v2Error(ctx, 400, "unknown member of the request");
        }
        let wanted: Set<string> | undefined;
        // Outputs asked as binary: each one named so, or all with parameters.binary_data_output.
        const binaryOut = new Set<string>();
        const params = body.parameters as { binary_data_output?: unknown } | undefined;
        if (params?.binary_data_output === true) for (const o of m.outputs) binaryOut.add(o.name);
        if (body.outputs !== undefined) {
          const list = body.outputs;
          const names = new Set(m.outputs.map((o) => o.name));
          if (
            !Array.isArray(list) ||
            !list.every((o) => typeof o === "object" && o !== null && typeof o.name === "string" && names.has(o.name))
          ) {
            return v2Error(ctx, 400, "outputs must name outputs of the model");
          }
          wanted = new Set(list.map((o: { name: string }) => o.name));
          for (const o of list as { name: string; parameters?: { binary_data?: unknown } }[]) {
            if (o.parameters?.binary_data === true) binaryOut.add(o.name);
          }
        }
        ctx.note({ model: m.name });
        try {
          const result = await engine.infer(m.name, body.inputs, limits);
          const chosen = wanted ? result.outputs.filter((o) => wanted.has(o.name)) : result.outputs;
          const blobs: Uint8Array[] = [];
          const outputs = chosen.map((o) => {
            if (!binaryOut.has(o.name)) return outputJson(o.name, o.datatype, o.shape, o.raw);
            const bytes = outputBytes(o.raw);
            blobs.push(bytes);
            return {
              name: o.name,
              datatype: o.datatype,
              shape: o.shape,
              parameters: { binary_data_size: bytes.length },
            };
          });
          const answer = {
            model_name: result.model_name,
            model_version: VERSION,
            ...(typeof body.id === "string" && REQUEST_ID.test(body.id) ? { id: body.id } : {}),
            outputs,
          };
          if (blobs.length === 0) return ctx.sendJson(200, answer);
          const header = Buffer.from(JSON.stringify(answer), "utf8");
          const whole = Buffer.concat([header, ...blobs]);
          sink.head(200, {
            "content-type": "application/octet-stream",
            "content-length": whole.length,
            [HEADER_LENGTH]: String(header.length),
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
          });
          sink.end(whole);
        } catch (error) {
          if (error instanceof TensorError) return v2Error(ctx, 400, error.message);
          if (error instanceof OnnxEngineError && error.code === "not-found") return v2Error(ctx, 404, "no such model");
          throw error;
        }
      },
    },
  ];
}
