// A small line plot on a canvas: one series of (x, y) points, axes with their ranges.
export function drawLine(canvas: HTMLCanvasElement, points: [number, number][], options: { xLabel: string; yLabel: string; percent?: boolean }): void {
  const ctx = canvas.getContext('2d')!;
  const { width, height } = canvas;
  const pad = { left: 48, right: 10, top: 10, bottom: 28 };
  ctx.clearRect(0, 0, width, height);
  ctx.font = '11px system-ui, sans-serif';
  ctx.fillStyle = '#555';
  ctx.strokeStyle = '#bbb';
  ctx.strokeRect(pad.left, pad.top, width - pad.left - pad.right, height - pad.top - pad.bottom);
  if (points.length === 0) return;
  const xs = points.map((p) => p[0]);
  const ys = points.map((p) => p[1]);
  const [x0, x1] = [Math.min(...xs), Math.max(...xs, Math.min(...xs) + 1e-9)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (y1 - y0 < 1e-9) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const px = (x: number) => pad.left + ((x - x0) / (x1 - x0 || 1)) * (width - pad.left - pad.right);
  const py = (y: number) => height - pad.bottom - ((y - y0) / (y1 - y0)) * (height - pad.top - pad.bottom);
  const fmt = (v: number) => (options.percent ? `${(100 * v).toFixed(1)}%` : v.toPrecision(3));
  ctx.fillText(fmt(y1), 2, pad.top + 8);
  ctx.fillText(fmt(y0), 2, height - pad.bottom);
  ctx.fillText(`${x0.toFixed(0)}`, pad.left, height - 8);
  ctx.fillText(`${x1.toFixed(0)} ${options.xLabel}`, width - pad.right - 70, height - 8);
  ctx.strokeStyle = '#1f6feb';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  points.forEach(([x, y], i) => (i === 0 ? ctx.moveTo(px(x), py(y)) : ctx.lineTo(px(x), py(y))));
  ctx.stroke();
  if (points.length < 30) for (const [x, y] of points) ctx.fillRect(px(x) - 2, py(y) - 2, 4, 4);
  ctx.fillStyle = '#333';
  ctx.fillText(options.yLabel, pad.left + 6, pad.top + 12);
}
