// The venues line of the overview: per venue, the latest day's entries, exits, people inside,
// refusals and gates, from GET /api/v1/venues (the gates' journals as the server stored them),
// refreshed every 10 s while the element is on the page.

import { h, replace, table } from '../dom.js';
import { get } from '../api.js';

/** A self-refreshing element with the venues table (empty when no gate has sent records). */
export function venuesLine() {
  const box = h('div', { id: 'venues-line' });
  const draw = async () => {
    let venues;
    try { venues = (await get('/api/v1/venues')).venues; } catch { return; }
    replace(box, table('!Venue gates, latest day', [
      { label: 'Venue', cell: (v) => v.venueId },
      { label: 'Day', cell: (v) => v.date },
      { label: 'Entries', cell: (v) => String(v.entries), class: 'num' },
      { label: 'Exits', cell: (v) => String(v.exits), class: 'num' },
      { label: 'Inside', cell: (v) => String(v.occupancy), class: 'num' },
      { label: 'Refused', cell: (v) => String(v.refused), class: 'num' },
      { label: 'Gates', cell: (v) => String(v.gates), class: 'num' },
    ], venues, 'No venue gate has sent records yet.'));
  };
  void draw();
  const timer = setInterval(() => { if (!box.isConnected) { clearInterval(timer); return; } void draw(); }, 10_000);
  return box;
}
