/**
 * The Teams message for an alert: an Adaptive Card inside the Workflows webhook envelope
 * ({"type":"message","attachments":[…]}). Teams drops cards over ~28 KB, so readings are capped.
 */
import type { Alert } from '../ports.ts';

const MAX_FACTS = 12;

function formatValue(value: unknown, unit: string | undefined): string {
  const text = typeof value === 'number' ? (Number.isInteger(value) ? String(value) : value.toFixed(2)) : String(value);
  return unit ? `${text} ${unit}` : text;
}

export function alertCard(alert: Alert): Record<string, unknown> {
  const critical = alert.severity === 'critical';
  const topSensors = Object.entries(alert.contributions)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 3)
    .map(([name]) => name);
  const readingFacts = Object.entries(alert.readings)
    .slice(0, MAX_FACTS)
    .map(([name, value]) => ({ title: name, value: formatValue(value, alert.units[name]) }));
  const action = critical
    ? 'Stop the equipment safely and dispatch maintenance now; check the sensors named above first.'
    : 'Inspect the equipment at the next opportunity and watch the trend on the dashboard.';
  const card = {
    type: 'AdaptiveCard',
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    version: '1.4',
    msteams: { width: 'Full' },
    body: [
      {
        type: 'TextBlock',
        size: 'Large',
        weight: 'Bolder',
        color: critical ? 'Attention' : 'Warning',
        text: `${critical ? 'CRITICAL' : 'Warning'}: ${alert.equipmentType} ${alert.deviceId}`,
        wrap: true,
      },
      {
        type: 'FactSet',
        facts: [
          { title: 'Anomaly score', value: alert.anomalyScore.toFixed(2) },
          ...(alert.failureProbability === undefined ? [] : [{ title: 'Failure probability', value: `${Math.round(alert.failureProbability * 100)} %` }]),
          { title: 'Time', value: new Date(alert.time).toISOString() },
          ...(topSensors.length ? [{ title: 'Driven by', value: topSensors.join(', ') }] : []),
          { title: 'Model', value: alert.modelVersion },
        ],
      },
      { type: 'TextBlock', text: 'Readings', weight: 'Bolder', spacing: 'Medium' },
      { type: 'FactSet', facts: readingFacts },
      { type: 'TextBlock', text: action, wrap: true },
      { type: 'TextBlock', text: `Alert ${alert.id}`, isSubtle: true, size: 'Small', wrap: true },
    ],
    actions: alert.dashboardUrl
      ? [{ type: 'Action.OpenUrl', title: 'Open in dashboard', url: `${alert.dashboardUrl.replace(/\/$/, '')}/#/equipment/${encodeURIComponent(alert.deviceId)}` }]
      : [],
  };
  return {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content: card }],
  };
}
