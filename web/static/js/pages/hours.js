// hours.js: the hours a schedule may name: every whole hour from the gateway's next whole hour
// (computed by the gateway in the cluster's zone), labelled in the cluster's zone and the browser's.

/** hourChoices lists days*24 hours from nextWholeHour: { iso, day, dayLabel, label }. */
export function hourChoices(nextWholeHour, clusterZone, browserZone, days = 14) {
  const first = new Date(nextWholeHour).getTime();
  if (Number.isNaN(first)) return [];
  const dayKey = new Intl.DateTimeFormat('en-CA', { timeZone: clusterZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  const dayName = new Intl.DateTimeFormat(undefined, { timeZone: clusterZone, weekday: 'short', day: '2-digit', month: 'short' });
  const hm = (zone) => new Intl.DateTimeFormat(undefined, { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
  const inCluster = hm(clusterZone);
  const inBrowser = hm(browserZone);
  const browserDay = new Intl.DateTimeFormat(undefined, { timeZone: browserZone, weekday: 'short' });
  const out = [];
  for (let i = 0; i < days * 24; i++) {
    const d = new Date(first + i * 3600e3);
    const day = dayKey.format(d);
    let label = inCluster.format(d);
    if (browserZone !== clusterZone) {
      const other = inBrowser.format(d);
      const otherDay = browserDay.format(d) !== new Intl.DateTimeFormat(undefined, { timeZone: clusterZone, weekday: 'short' }).format(d) ? ` ${browserDay.format(d)}` : '';
      if (other !== label || otherDay) label += ` (${other}${otherDay} your time)`;
    }
    out.push({ iso: d.toISOString().replace('.000Z', 'Z'), day, dayLabel: dayName.format(d), label });
  }
  return out;
}
