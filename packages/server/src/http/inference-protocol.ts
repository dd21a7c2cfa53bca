/**
 * The Open Inference Protocol (KServe v2, "REST/HTTP API"), which Triton,
 * KServe, Seldon MLServer and OpenVINO Model Server speak, over the ONNX
 * engine: health (`GET /v2/health/live`, `/v2/health/ready`), server and
 * model metadata (`GET /v2`, `/v2/models/{name}`, `/v2/models/{name}/ready`)
 * and inference (`POST /v2/models/{name}/infer`, JSON tensors). Errors take
 * the protocol's shape, `{"error": "<message>"}`, and a message names the
 * model's input at fault — never a value of the request. The routes are
 * served by the same handler as the OpenAI ones: same limits, access rules,
 * sealed channel, logs and metrics.
 */
import { type OnnxEngine, OnnxEngineError } from "../engine/onnx/onnx-engine.js";
import { TensorError, type TensorLimits } from "../engine/onnx/tensors.js";
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
      handler: async (_q, _s, ctx) => {
        const m = model(ctx);
        if (!m) return;
        const body = await ctx.readJson();
        for (const key of Object.keys(body)) {
          if (!["id", "inputs", "outputs", "parameters"].includes(key))
            return v2Error(ctx, 400, "unknown member of the request");
        }
        let wanted: Set<string> | undefined;
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
        }
        ctx.note({ model: m.name });
        try {
          const result = await engine.infer(m.name, body.inputs, limits);
          ctx.sendJson(200, {
            model_name: result.model_name,
            model_version: VERSION,
            ...(typeof body.id === "string" && REQUEST_ID.test(body.id) ? { id: body.id } : {}),
            outputs: wanted ? result.outputs.filter((o) => wanted.has(o.name)) : result.outputs,
          });
        } catch (error) {
          if (error instanceof TensorError) return v2Error(ctx, 400, error.message);
          if (error instanceof OnnxEngineError && error.code === "not-found") return v2Error(ctx, 404, "no such model");
          throw error;
        }
      },
    },
  ];
}
