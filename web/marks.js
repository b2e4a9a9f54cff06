// Performance marks (hearth:connect, hearth:welcome, hearth:offer, ...), left by the client as it
// joins, so join time can be measured and explained (bench/join_bench.py reads them; so do tests).

/** @param {string} name the milestone, marked as `hearth:${name}` */
export function mark(name) {
  performance.mark(`hearth:${name}`);
}
