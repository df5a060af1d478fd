// Runs the script of a --graph .html page under a minimal stand-in DOM (node, no browser) and prints
// what it drew: the boxes' and frames' texts and the edges' labels, before and after clicks.
"use strict";
const fs = require("fs");
const html = fs.readFileSync(process.argv[2], "utf8");
const data = html.match(/<script id="data" type="application\/json">([\s\S]*?)<\/script>/)[1];
const code = html.match(/<script>\n([\s\S]*?)<\/script>/)[1];
class El {
  constructor(tag) { this.tag = tag; this.attrs = {}; this.children = []; this.listeners = {}; this.textContent = ""; }
  setAttribute(k, v) { this.attrs[k] = String(v); }
  appendChild(c) { this.children.push(c); return c; }
  removeChild(c) { this.children.splice(this.children.indexOf(c), 1); }
  get firstChild() { return this.children[0] || null; }
  addEventListener(type, f) { this.listeners[type] = f; }
}
const els = { data: new El("script"), title: new El("b"), params: new El("span"), expand: new El("button"),
              collapse: new El("button"), graph: new El("svg") };
els.data.textContent = data;
global.document = { getElementById: id => els[id], createElementNS: (ns, tag) => new El(tag) };
new Function(code)();
// Frames (expanded composites) must hold whole boxes and nest: count the rectangles that cut into one
// another, and those outside the picture.
function clashes(groups) {
  const rect = g => { const r = g.children[0].attrs; return [+r.x, +r.y, +r.x + +r.width, +r.y + +r.height]; };
  const boxes = groups.filter(g => /box/.test(g.attrs.class)).map(rect);
  const frames = groups.filter(g => g.attrs.class === "frame").map(rect);
  const meet = (a, b) => a[0] < b[2] && b[0] < a[2] && a[1] < b[3] && b[1] < a[3];
  const within = (a, b) => a[0] >= b[0] && a[1] >= b[1] && a[2] <= b[2] && a[3] <= b[3];
  let count = 0;
  for (const f of frames) {
    count += boxes.filter(b => meet(b, f) && !within(b, f)).length;
    count += frames.filter(g => g !== f && meet(f, g) && !within(f, g) && !within(g, f)).length;
  }
  for (const r of boxes.concat(frames)) if (Math.min(...r) < 0) count++;
  for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) if (meet(boxes[i], boxes[j])) count++;
  return count;
}
function state() {
  const groups = els.graph.children.filter(g => g.tag === "g");
  const texts = g => g.children.filter(c => c.tag === "text").map(c => c.textContent);
  return {
    clashes: clashes(groups),
    boxes: groups.filter(g => /box/.test(g.attrs.class)).map(g => texts(g).join(" | ")),
    frames: groups.filter(g => g.attrs.class === "frame").map(g => texts(g)[0]),
    edges: groups.filter(g => g.attrs.class === "edge").map(g => texts(g)[0]),
    titles: groups.map(g => g.children.filter(c => c.tag === "title").map(c => c.textContent)).flat(),
  };
}
const out = { title: els.title.textContent, initial: state() };
const closed = els.graph.children.find(g => g.tag === "g" && /closed/.test(g.attrs.class || ""));
if (closed) { closed.listeners.click(); out.clicked = state(); }
els.expand.listeners.click(); out.expanded = state();
els.collapse.listeners.click(); out.collapsed = state();
process.stdout.write(JSON.stringify(out));
