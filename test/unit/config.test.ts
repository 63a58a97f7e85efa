import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/lib/config.ts';

const minimal = { DIGITAL_TWINS_URL: 'https://plant.api.weu.digitaltwins.azure.net', ADX_CLUSTER_URL: 'https://plant.westeurope.kusto.windows.net' };

describe('app settings', () => {
  it('fill in defaults around the required endpoints', () => {
    const c = loadConfig(minimal);
    expect(c).toMatchObject({ EVENTHUB_NAME: 'telemetry', ADX_DATABASE: 'telemetry', TWIN_PATCH_INTERVAL_MS: 15_000, ANOMALY_CRITICAL_THRESHOLD: 0.8 });
    expect(c.ML_ENDPOINT_URL).toBeUndefined();
  });

  it('name every missing or invalid setting, one line each', () => {
    let message = '';
    try {
      loadConfig({ ADX_CLUSTER_URL: 'not a url', ANOMALY_WARNING_THRESHOLD: '2', TWIN_PATCH_INTERVAL_MS: '-5', ML_ENDPOINT_URL: '' });
    } catch (error) {
      message = (error as Error).message;
    }
    const lines = message.split('\n').slice(1).map((l) => l.trim());
    expect(lines).toEqual(expect.arrayContaining([
      expect.stringMatching(/^DIGITAL_TWINS_URL: missing — must be a URL/),
      expect.stringMatching(/^ADX_CLUSTER_URL: must be a URL/),
      expect.stringMatching(/^ANOMALY_WARNING_THRESHOLD: /),
      expect.stringMatching(/^TWIN_PATCH_INTERVAL_MS: /),
    ]));
    expect(lines).toHaveLength(4);
  });

  it('take telemetry to exactly one store: Data Explorer, or a local DuckDB file', () => {
    expect(loadConfig({ DIGITAL_TWINS_URL: minimal.DIGITAL_TWINS_URL, DUCKDB_PATH: '.data/telemetry.duckdb' }).DUCKDB_PATH).toBe('.data/telemetry.duckdb');
    expect(() => loadConfig({ ...minimal, DUCKDB_PATH: '.data/telemetry.duckdb' })).toThrow(/set exactly one of ADX_CLUSTER_URL .* and DUCKDB_PATH/);
    expect(() => loadConfig({ DIGITAL_TWINS_URL: minimal.DIGITAL_TWINS_URL })).toThrow(/set exactly one of ADX_CLUSTER_URL/);
  });

  it('run without a secret whose Key Vault reference the platform has not resolved, and say which', () => {
    // What App Service leaves in a setting while the app's Key Vault role is still applying.
    const c = loadConfig({ ...minimal, TEAMS_WEBHOOK_URL: '@Microsoft.KeyVault(SecretUri=https://kv-x.vault.azure.net/secrets/teams-webhook-url/)', ML_ENDPOINT_KEY: ' @Microsoft.KeyVault(SecretUri=https://kv-x.vault.azure.net/secrets/ml-endpoint-key/)' });
    expect(c.TEAMS_WEBHOOK_URL).toBeUndefined();
    expect(c.ML_ENDPOINT_KEY).toBeUndefined();
    expect(c.unresolvedKeyVaultReferences).toEqual(['ML_ENDPOINT_KEY', 'TEAMS_WEBHOOK_URL']);
    expect(loadConfig(minimal).unresolvedKeyVaultReferences).toEqual([]);
  });

  it('reject a warning threshold above the critical one', () => {
    expect(() => loadConfig({ ...minimal, ANOMALY_WARNING_THRESHOLD: '0.9', ANOMALY_CRITICAL_THRESHOLD: '0.6' })).toThrow(/ANOMALY_WARNING_THRESHOLD: must not exceed ANOMALY_CRITICAL_THRESHOLD/);
  });
});
