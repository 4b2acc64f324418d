// The flow drawn as plain SVG: a box per step (its type, id and what it says), an arrow
// per exit (labelled when it is an option, a case or a branch), the start marked, steps
// with problems outlined in red with their count. Click a box to edit it; drag from a
// box's round handle onto another box to connect them. All text goes in as text nodes.
"use strict";

import { BOX, layout } from "./flow_layout.js";
import { exits, hasNext, summary, typeName } from "./flow_steps.js";

const NS = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null) node.setAttribute(key, String(value));
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

function clip(text, max) {
  const s = String(text ?? "").replace(/\s+/g, " ").trim();
  return s.length > max ? s.slice(0, max - 1) + "…" : s;
}

/**
 * Draw `doc` into the <svg> `root`. `problems` maps step id → [detail]; `selected` is a
 * step id; `names` maps team and operator ids to names; `onSelect(id)` and
 * `onConnect(from, to)` are called on clicks and drags (`onConnect` only when `editable`).
 */
export function drawFlow(root, doc, { selected, problems = {}, names = {}, editable, onSelect, onConnect }) {
  const { positions, width, height } = layout(doc);
  root.replaceChildren();
  root.setAttribute("viewBox", `0 0 ${width} ${height}`);
  root.setAttribute("width", width);
  root.setAttribute("height", height);
  const defs = svg("defs");
  const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" });
  marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow-head" }));
  defs.append(marker);
  root.append(defs);

  const edges = svg("g", { class: "edges" });
  const boxes = svg("g", { class: "boxes" });
  root.append(edges, boxes);
  for (const [id, step] of Object.entries(doc.steps || {})) {
    const from = positions[id];
    const out = exits(step).filter((e) => e.target in positions);
    out.forEach((exit, i) => edges.append(edge(from, positions[exit.target], exit, i, out.length)));
  }
  for (const [id, step] of Object.entries(doc.steps || {})) {
    boxes.append(box(id, step, positions[id], {
      start: id === doc.start, selected: id === selected, problems: problems[id] || [], names, editable,
    }));
  }
  wire(root, positions, { editable, onSelect, onConnect });
}

function edge(from, to, exit, i, count) {
  const group = svg("g", { class: "edge", "data-exit": exit.path });
  const sx = from.x + (BOX.width * (i + 1)) / (count + 1);
  const sy = from.y + BOX.height;
  let d;
  let label;
  if (to.row > from.row) {
    const tx = to.x + BOX.width / 2;
    const ty = to.y;
    const bend = Math.max(30, (ty - sy) / 2);
    d = `M ${sx} ${sy} C ${sx} ${sy + bend}, ${tx} ${ty - bend}, ${tx} ${ty - 2}`;
    label = { x: (sx + tx) / 2, y: (sy + ty) / 2 };
  } else {
    // Back or sideways: around the right-hand side, into the target's right edge.
    const rx = from.x + BOX.width;
    const ry = from.y + BOX.height / 2;
    const tx = to.x + BOX.width;
    const ty = to.y + BOX.height / 2 + (to === from ? 12 : 0);
    const out = Math.max(rx, tx) + 50;
    d = `M ${rx} ${ry} C ${out} ${ry}, ${out} ${ty}, ${tx + 2} ${ty}`;
    label = { x: out - 12, y: (ry + ty) / 2 };
  }
  group.append(svg("path", { d, class: "edge-line", "marker-end": "url(#arrow)" }));
  if (exit.label && exit.label !== "then") {
    group.append(svg("text", { x: label.x, y: label.y, class: "edge-label", "text-anchor": "middle" }, clip(exit.label, 18)));
  }
  return group;
}

function box(id, step, at, { start, selected, problems, names, editable }) {
  const classes = ["step-box", "type-" + (/^[a-z_]+$/.test(step.type) ? step.type : "other")];
  if (selected) classes.push("selected");
  if (problems.length) classes.push("has-problem");
  const group = svg("g", {
    class: classes.join(" "), "data-step": id, transform: `translate(${at.x} ${at.y})`,
    tabindex: 0, role: "button", "aria-label": `Step ${id}: ${typeName(step.type)}${problems.length ? `, ${problems.length} problem(s)` : ""}`,
  });
  group.append(svg("title", {}, problems.length ? problems.join("\n") : `${typeName(step.type)} · ${id}`));
  group.append(svg("rect", { class: "box", width: BOX.width, height: BOX.height, rx: 10 }));
  group.append(svg("rect", { class: "band", width: 6, height: BOX.height, rx: 3 }));
  group.append(svg("text", { x: 16, y: 20, class: "box-type" }, clip(typeName(step.type), 26)));
  group.append(svg("text", { x: 16, y: 40, class: "box-id" }, clip(id, 22)));
  group.append(svg("text", { x: 16, y: 58, class: "box-summary" }, clip(summary(step, names), 25)));
  if (start) group.append(svg("text", { x: 0, y: -8, class: "start-mark" }, "▶ Start"));
  if (problems.length) {
    const badge = svg("g", { class: "problem-badge", transform: `translate(${BOX.width - 14} 14)` });
    badge.append(svg("circle", { r: 10 }), svg("text", { y: 4, "text-anchor": "middle" }, String(problems.length)));
    group.append(badge);
  }
  if (editable && (hasNext(step.type) || exits(step).length)) {
    group.append(svg("circle", { class: "port", cx: BOX.width / 2, cy: BOX.height, r: 7, "data-port": id }));
  }
  return group;
}

function wire(root, positions, { editable, onSelect, onConnect }) {
  const stepAt = (target) => target?.closest?.(".step-box")?.dataset.step;
  root.onclick = (event) => {
    if (event.target.closest(".port")) return;
    const id = stepAt(event.target);
    onSelect(id || null);
  };
  root.onkeydown = (event) => {
    if (event.key !== "Enter" && event.key !== " ") return;
    const id = stepAt(event.target);
    if (id) {
      event.preventDefault();
      onSelect(id);
    }
  };
  if (!editable) return;
  root.onpointerdown = (event) => {
    const port = event.target.closest(".port");
    if (!port) return;
    event.preventDefault();
    const from = port.dataset.port;
    const start = positions[from];
    const line = svg("line", { class: "drag-line", x1: start.x + BOX.width / 2, y1: start.y + BOX.height });
    root.append(line);
    const point = (e) => {
      const p = root.createSVGPoint();
      p.x = e.clientX;
      p.y = e.clientY;
      return p.matrixTransform(root.getScreenCTM().inverse());
    };
    const move = (e) => {
      const p = point(e);
      line.setAttribute("x2", p.x);
      line.setAttribute("y2", p.y);
    };
    move(event);
    const up = (e) => {
      root.removeEventListener("pointermove", move);
      root.removeEventListener("pointerup", up);
      line.remove();
      const to = stepAt(document.elementFromPoint(e.clientX, e.clientY));
      if (to && to !== from) onConnect(from, to);
    };
    root.addEventListener("pointermove", move);
    root.addEventListener("pointerup", up);
    root.setPointerCapture?.(event.pointerId);
  };
}
