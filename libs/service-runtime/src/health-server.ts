import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';

export type HealthCheck = () => Promise<string | true> | string | true;

/**
 * Liveness, readiness and metrics on a port of their own, apart from any public API: probes keep answering while
 * the public server is saturated, and the public server exposes nothing operational.
 * GET /health/live: the process can still work — every liveness check passes (503 and the failures otherwise: only
 * a state the process cannot leave by itself, so that the orchestrator restarts it). GET /health/ready: every
 * readiness check passes (503 and the failures otherwise). GET /metrics: Prometheus exposition, when that exporter is
 * on.
 */
export class HealthServer {
  private readonly checks = new Map<string, HealthCheck>();
  private readonly livenessChecks = new Map<string, () => string | true>();
  private server: Server | undefined;
  private started = false;
  private stopping = false;

  constructor(
    private readonly service: string,
    private readonly metricsHandler?: (request: IncomingMessage, response: ServerResponse) => void,
  ) {}

  register(name: string, check: HealthCheck): void {
    this.checks.set(name, check);
  }

  /** A check for GET /health/live: a failure makes the orchestrator restart the process, so only for wedges. */
  registerLiveness(name: string, check: () => string | true): void {
    this.livenessChecks.set(name, check);
  }

  liveness(): { live: boolean; checks: Record<string, string> } {
    const checks: Record<string, string> = {};
    let live = true;
    for (const [name, check] of this.livenessChecks) {
      const result = check();
      checks[name] = result === true ? 'ok' : result;
      if (result !== true) live = false;
    }
    return { live, checks };
  }

  /** Readiness is false until start-up has finished: topics, migrations, consumer group joined, HTTP listening. */
  markStarted(): void {
    this.started = true;
  }

  /** Readiness fails from now on, so load balancers drain this instance before it stops. */
  markStopping(): void {
    this.stopping = true;
  }

  async listen(port: number, host = '0.0.0.0'): Promise<void> {
    this.server = createServer((request, response) => void this.route(request, response));
    await new Promise<void>((resolve, reject) => {
      this.server?.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'EADDRINUSE' ? new Error(`health port ${port} is in use; set HEALTH_PORT to another port`) : error),
      );
      this.server?.listen(port, host, resolve);
    });
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  async readiness(): Promise<{ ready: boolean; checks: Record<string, string> }> {
    const checks: Record<string, string> = {};
    let ready = this.started && !this.stopping;
    checks['lifecycle'] = this.stopping ? 'stopping' : this.started ? 'ok' : 'starting';
    for (const [name, check] of this.checks) {
      try {
        const result = await check();
        checks[name] = result === true ? 'ok' : result;
        if (result !== true) ready = false;
      } catch (error) {
        checks[name] = (error as Error).message;
        ready = false;
      }
    }
    return { ready, checks };
  }

  private async route(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const path = (request.url ?? '/').split('?')[0];
    if (path === '/health/live') {
      const { live, checks } = this.liveness();
      return json(live ? 200 : 503, { service: this.service, status: live ? 'live' : 'not live', checks });
    }
    if (path === '/health/ready') {
      const { ready, checks } = await this.readiness();
      return json(ready ? 200 : 503, { service: this.service, status: ready ? 'ready' : 'not ready', checks });
    }
    if (path === '/metrics' && this.metricsHandler) return this.metricsHandler(request, response);
    return json(404, { error: 'not found; try /health/live, /health/ready or /metrics' });
  }
}
