import cytoscape, { type Core } from 'cytoscape';
import dagre from 'cytoscape-dagre';
import { useEffect, useRef } from 'react';
import type { Topology } from '../api/types.js';
import { buildElements } from './build-elements.js';

cytoscape.use(dagre);

const style: cytoscape.StylesheetJson = [
  {
    selector: 'node',
    style: {
      label: 'data(label)',
      'font-size': 11,
      'text-valign': 'center',
      'text-halign': 'center',
      'background-color': '#edf2ff',
      'border-color': '#4c6ef5',
      'border-width': 1.5,
      shape: 'round-rectangle',
      width: 64,
      height: 30,
      color: '#1b1f3b',
    },
  },
  {
    selector: 'node[kind = "ingress"]',
    style: {
      shape: 'diamond',
      'background-color': '#fff4e6',
      'border-color': '#f08c00',
      width: 44,
      height: 44,
      'text-valign': 'bottom',
      'text-margin-y': 4,
    },
  },
  {
    selector: ':parent',
    style: {
      'text-valign': 'top',
      'text-halign': 'center',
      'font-weight': 'bold',
      'background-color': '#f8f9fa',
      'border-color': '#adb5bd',
      'border-style': 'dashed',
      padding: '12px',
    },
  },
  {
    selector: 'edge',
    style: {
      'curve-style': 'bezier',
      'target-arrow-shape': 'triangle',
      'line-color': 'data(color)',
      'target-arrow-color': 'data(color)',
      width: 'data(width)',
      label: 'data(label)',
      'font-size': 10,
      'text-background-color': '#ffffff',
      'text-background-opacity': 0.9,
      'text-background-padding': '2px',
      'text-rotation': 'autorotate',
      color: '#343a40',
    },
  },
  {
    selector: ':selected',
    style: { 'border-width': 3, 'border-color': '#7048e8', 'line-color': '#7048e8', 'target-arrow-color': '#7048e8' },
  },
];

/** Draws the topology; re-lays out only when the set of nodes changes so the graph stays still between polls. */
export function TopologyGraph({
  topology,
  selected,
  onSelect,
  label,
}: {
  topology: Topology;
  selected: string | null;
  onSelect: (id: string | null) => void;
  label: string;
}) {
  const ref = useRef<HTMLDivElement>(null);
  const cy = useRef<Core | null>(null);
  const shape = useRef('');
  const select = useRef(onSelect);
  select.current = onSelect;

  useEffect(() => {
    if (!ref.current) return undefined;
    const c = cytoscape({ container: ref.current, style, minZoom: 0.3, maxZoom: 2.5 });
    // A new instance is empty: the next effect must add every element (React may re-run this effect, e.g. StrictMode).
    shape.current = '';
    c.on('tap', (e) => {
      if (e.target === c) select.current(null);
      else if (!e.target.isParent?.()) select.current(e.target.id());
    });
    cy.current = c;
    return () => {
      c.destroy();
      cy.current = null;
    };
  }, []);

  useEffect(() => {
    const c = cy.current;
    if (!c) return;
    const elements = buildElements(topology);
    const nextShape = elements
      .map((e) => `${e.group}:${e.data.id}`)
      .sort()
      .join('|');
    if (nextShape !== shape.current) {
      shape.current = nextShape;
      c.elements().remove();
      c.add(elements);
      c.layout({ name: 'dagre', rankDir: 'LR', nodeSep: 30, rankSep: 90, padding: 20 } as cytoscape.LayoutOptions).run();
    } else {
      for (const e of elements) c.getElementById(String(e.data.id)).data(e.data);
    }
    c.elements().unselect();
    if (selected) c.getElementById(selected).select();
    // What the canvas really holds, for tests and tools that cannot read a canvas.
    if (ref.current)
      ref.current.dataset.renderedNodes = c
        .nodes()
        .map((n) => n.id())
        .join(' ');
  }, [topology, selected]);

  return <div ref={ref} style={{ width: '100%', height: 440 }} role="img" aria-label={label} data-test="topology-graph" />;
}
