/**
 * One scoring call per batch to the ML endpoint. When there is none, or it fails, the batch is
 * scored by the streaming detector alone (which the pipeline runs on every reading anyway), so an
 * unreachable endpoint never stops ingestion. After a failure the endpoint is left alone for a
 * while (a circuit breaker) so every batch does not wait out a timeout.
 */
import type { Logger } from '../log.ts';
import type { ScoreInput, ScoreResult, ScorerPort } from '../ports.ts';

export interface ScoredBatch {
  /** The endpoint's results in input order; undefined when it was not used. */
  results: ScoreResult[] | undefined;
  source: 'endpoint' | 'fallback';
}

export class ResilientScorer {
  private openUntil = 0;

  constructor(
    private readonly endpoint: ScorerPort | undefined,
    private readonly logger: Logger,
    private readonly breakMs = 30_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Whether a call would go to the endpoint now (configured, circuit closed): else inputs need not be built. */
  get wantsInputs(): boolean {
    return this.endpoint !== undefined && this.now() >= this.openUntil;
  }

  async score(inputs: readonly ScoreInput[]): Promise<ScoredBatch> {
    if (this.endpoint && this.now() >= this.openUntil) {
      try {
        return { results: await this.endpoint.score(inputs), source: 'endpoint' };
      } catch (error) {
        this.openUntil = this.now() + this.breakMs;
        this.logger.log('warn', 'scoring endpoint failed; using the built-in detector', {
          code: (error as { code?: string }).code ?? 'unknown',
          error: (error as Error).message,
          retryInMs: this.breakMs,
        });
      }
    }
    return { results: undefined, source: 'fallback' };
  }
}
