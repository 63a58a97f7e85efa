/** Posts alerts to a Microsoft Teams Workflows webhook, retrying throttling and transient faults. */
import { AppError, httpError } from '../errors.ts';
import { withRetry, defaultRetryPolicy, type RetryPolicy } from '../retry.ts';
import type { Alert, AlertSink, AlertSummary } from '../ports.ts';
import { alertCard, summaryCard } from './adaptive-card.ts';

export interface TeamsWebhookOptions {
  url: string;
  timeoutMs?: number;
  retry?: RetryPolicy;
  fetch?: typeof fetch;
}

const TEAMS_RETRY: RetryPolicy = { ...defaultRetryPolicy, longRetryAfter: 'stop' };

export class TeamsWebhook implements AlertSink {
  private readonly fetch: typeof fetch;
  constructor(private readonly options: TeamsWebhookOptions) {
    this.fetch = options.fetch ?? globalThis.fetch;
  }

  async send(alert: Alert): Promise<void> {
    await this.post(JSON.stringify(alertCard(alert)));
  }

  async sendSummary(summary: AlertSummary): Promise<void> {
    await this.post(JSON.stringify(summaryCard(summary)));
  }

  private async post(body: string): Promise<void> {
    await withRetry(async () => {
      let response: Response;
      try {
        response = await this.fetch(this.options.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
          signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000),
        });
      } catch (error) {
        throw new AppError('teams.unreachable', `Teams webhook unreachable: ${(error as Error).message}`, { status: 503, retryable: true, cause: error });
      }
      const text = await response.text();
      if (!response.ok) throw httpError('teams', response.status, text, response.headers.get('retry-after'));
      // Teams down for longer than we would wait: the card is kept (the outbox) now, not after retries that hold the batch up.
    }, this.options.retry ?? TEAMS_RETRY);
  }
}
