import { html, type SafeHtml } from '../html.ts';
import type { DailyBusinessMetrics } from '../metrics-source.ts';
import { consolePage } from './layout.ts';

const WIDTH = 300;
const HEIGHT = 120;
const PAD = { left: 30, right: 4, top: 8, bottom: 18 };

interface Series {
  title: string;
  value: (day: DailyBusinessMetrics) => number;
  format: (value: number) => string;
  kind: 'bar' | 'line';
}

const SERIES: Series[] = [
  {
    title: 'Minutes saved',
    value: (d) => d.minutesSaved,
    format: (v) => `${Math.round(v)} min`,
    kind: 'bar',
  },
  { title: 'Actions executed', value: (d) => d.actionsExecuted, format: String, kind: 'bar' },
  { title: 'Errors introduced', value: (d) => d.errorsIntroduced, format: String, kind: 'bar' },
  { title: 'Corrective actions', value: (d) => d.correctiveActions, format: String, kind: 'bar' },
  { title: 'Approvals approved', value: (d) => d.approvalsApproved, format: String, kind: 'bar' },
  { title: 'Approvals edited', value: (d) => d.approvalsEdited, format: String, kind: 'bar' },
  { title: 'Approvals rejected', value: (d) => d.approvalsRejected, format: String, kind: 'bar' },
  { title: 'Model spend', value: (d) => d.modelSpendUsd, format: (v) => `$${v.toFixed(2)}`, kind: 'line' },
];

/** An inline SVG chart of one series over the days (bars, or a line for money), with a text fallback. */
export function chart(series: Series, days: DailyBusinessMetrics[]): SafeHtml {
  const values = days.map(series.value);
  const max = Math.max(0, ...values);
  const scale = max > 0 ? (HEIGHT - PAD.top - PAD.bottom) / max : 0;
  const slot = (WIDTH - PAD.left - PAD.right) / Math.max(1, days.length);
  const x = (index: number) => PAD.left + index * slot;
  const y = (value: number) => HEIGHT - PAD.bottom - value * scale;
  const total = values.reduce((sum, value) => sum + value, 0);
  const marks =
    series.kind === 'bar'
      ? values.map(
          (value, index) =>
            html`<rect class="bar" x="${(x(index) + slot * 0.15).toFixed(1)}" y="${y(value).toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${(value * scale).toFixed(1)}"><title>${days[index]?.day}: ${series.format(value)}</title></rect>`,
        )
      : html`<polyline class="line" points="${values.map((value, index) => `${(x(index) + slot / 2).toFixed(1)},${y(value).toFixed(1)}`).join(' ')}"></polyline>`;
  const first = days[0]?.day ?? '';
  const last = days.at(-1)?.day ?? '';
  return html`<figure class="card"><figcaption><strong>${series.title}</strong> <span class="muted">— ${series.format(total)} in ${days.length} days</span></figcaption>
<svg class="chart" viewBox="0 0 ${WIDTH} ${HEIGHT}" role="img" aria-label="${series.title} per day">
<line class="axis" x1="${PAD.left}" y1="${HEIGHT - PAD.bottom}" x2="${WIDTH - PAD.right}" y2="${HEIGHT - PAD.bottom}"></line>
<text x="${PAD.left - 3}" y="${PAD.top + 4}" text-anchor="end">${series.format(max)}</text>
<text x="${PAD.left - 3}" y="${HEIGHT - PAD.bottom}" text-anchor="end">0</text>
${marks}
<text x="${PAD.left}" y="${HEIGHT - 4}">${first.slice(5)}</text>
<text x="${WIDTH - PAD.right}" y="${HEIGHT - 4}" text-anchor="end">${last.slice(5)}</text>
</svg></figure>`;
}

/** The business metrics per day (last 30 days), or why there are none. */
export function metricsPage(
  days: DailyBusinessMetrics[] | null,
  common: { csrf: string; notice?: string | null; badges?: { approvals?: number; failures?: number } },
): string {
  const body =
    days === null
      ? html`<p class="card">No metrics source configured.</p>`
      : html`<div class="charts">${SERIES.map((series) => chart(series, days))}</div>`;
  return consolePage({ title: 'Metrics, last 30 days', section: 'metrics', ...common, body });
}
