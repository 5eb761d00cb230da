/**
 * Metrics routes: GET /metrics (Prometheus text) and GET /v1/vms/:name/metrics (the sampled
 * history as JSON, for graphs), plus the hook that counts and times every API request.
 */
import type { FastifyInstance } from 'fastify';
import { HangarError } from '../../errors/errors.js';
import type { VmRecord } from '../../store/store.js';
import { PROMETHEUS_CONTENT_TYPE, type PrometheusMetrics } from '../../metrics/prometheus.js';
import { toHistory } from '../../metrics/rates.js';
import type { MetricsSampler } from '../../metrics/sampler.js';
import { MetricsPoint, PrometheusText, VmMetricsQuery, VmMetricsReply, VmNameParam, parseSince } from '../../contract/index.js';

export interface MetricsApiDeps {
  metrics?: { sampler: MetricsSampler; prometheus: PrometheusMetrics };
  vms: { record(name: string): Promise<VmRecord> };
}

const errors = { 400: { $ref: 'Error#' }, 404: { $ref: 'Error#' }, 500: { $ref: 'Error#' } } as const;

/** Counts and times every request by route pattern; call before the routes are added. */
export function instrumentApi(app: FastifyInstance, deps: MetricsApiDeps): void {
  const prometheus = deps.metrics?.prometheus;
  if (!prometheus) return;
  app.addHook('onResponse', async (req, reply) => {
    // The route pattern, never the raw URL: one series per route, whatever the names in it.
    prometheus.observeRequest(req.method, req.routeOptions.url ?? 'unmatched', reply.statusCode, reply.elapsedTime / 1000);
  });
}

export function registerMetricsRoutes(app: FastifyInstance, deps: MetricsApiDeps): void {
  app.addSchema(MetricsPoint);
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['metrics'], summary: 'Prometheus metrics: VMs (CPU, memory, balloon, guest memory, disks, NICs, state), host, sampler, API and daemon',
        produces: ['text/plain'], response: { 200: PrometheusText },
      },
    },
    async (_req, reply) => {
      if (!deps.metrics) throw new HangarError('NOT_FOUND', 'This daemon has no metrics.');
      const text = await deps.metrics.prometheus.render();
      return reply.type(PROMETHEUS_CONTENT_TYPE).send(text);
    },
  );
  app.get<{ Params: { name: string }; Querystring: { since?: string } }>(
    '/v1/vms/:name/metrics',
    {
      schema: {
        tags: ['metrics'], summary: "A VM's sampled metrics history (bounded; the last hour at the default settings), oldest first, with per-second rates",
        params: VmNameParam,
        querystring: VmMetricsQuery, response: { 200: VmMetricsReply, ...errors },
      },
    },
    async (req) => {
      const rec = await deps.vms.record(req.params.name);
      const sampler = deps.metrics?.sampler;
      if (!sampler) return { vm: rec.name, intervalSeconds: 0, historySeconds: 0, samples: [] };
      const since = parseSince(req.query.since);
      const { samples, before } = sampler.history(rec.id, since);
      return { vm: rec.name, intervalSeconds: sampler.intervalSeconds, historySeconds: sampler.historySeconds, samples: toHistory(samples, before) };
    },
  );
}
