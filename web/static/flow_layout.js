// Where each step's box goes on the canvas: rows by distance from the start step (a
// breadth-first walk along the exits), steps no path reaches in a last row. Deterministic,
// so the same flow always looks the same; nothing about positions is stored.
"use strict";

import { exits } from "./flow_steps.js";

export const BOX = { width: 200, height: 70, gapX: 40, gapY: 70, margin: 30 };

/** {positions: {id: {x, y, row}}, width, height} for a document's steps. */
export function layout(doc) {
  const steps = doc.steps || {};
  const rowOf = {};
  const rows = [];
  const place = (id, row) => {
    rowOf[id] = row;
    (rows[row] ||= []).push(id);
  };
  if (doc.start in steps) {
    place(doc.start, 0);
    const queue = [doc.start];
    while (queue.length) {
      const id = queue.shift();
      for (const exit of exits(steps[id])) {
        if (exit.target in steps && !(exit.target in rowOf)) {
          place(exit.target, rowOf[id] + 1);
          queue.push(exit.target);
        }
      }
    }
  }
  const unreached = Object.keys(steps).filter((id) => !(id in rowOf));
  if (unreached.length) {
    const row = rows.length;
    for (const id of unreached) place(id, row);
  }
  const widest = Math.max(1, ...rows.map((r) => r.length));
  const width = BOX.margin * 2 + widest * BOX.width + (widest - 1) * BOX.gapX;
  const positions = {};
  rows.forEach((ids, row) => {
    const rowWidth = ids.length * BOX.width + (ids.length - 1) * BOX.gapX;
    const left = (width - rowWidth) / 2;
    ids.forEach((id, i) => {
      positions[id] = { x: left + i * (BOX.width + BOX.gapX), y: BOX.margin + 20 + row * (BOX.height + BOX.gapY), row };
    });
  });
  const height = BOX.margin * 2 + 20 + rows.length * BOX.height + Math.max(0, rows.length - 1) * BOX.gapY;
  return { positions, width, height: Math.max(height, 160) };
}
