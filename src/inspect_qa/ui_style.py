"""Look of the question page: the Gradio theme, the stylesheet and two small scripts.

Fonts are the ones Gradio ships (IBM Plex Sans and Mono for the interface, Lora for document
text), so the page never reaches out to a font server. Colours come from the theme's variables
where they can, so the page also reads in dark mode; the highlight colours are fixed and carry their
own text colour.
"""

from __future__ import annotations

from typing import Any


def theme() -> Any:
    import gradio as gr

    fonts = gr.themes.LocalFont
    return gr.themes.Base(
        primary_hue="blue",
        neutral_hue="slate",
        radius_size="sm",
        # Gradio's IBM Plex Sans SemiBold file is a subset: use Regular and Bold only. Lora comes
        # last, after the generic family, so it is declared (for document text) but never used
        # as a fallback for interface text.
        font=(fonts("IBM Plex Sans", weights=(400, 700)), "ui-sans-serif", "system-ui",
              "sans-serif", fonts("Lora", weights=(400,))),
        font_mono=(fonts("IBM Plex Mono", weights=(400,)), "ui-monospace", "monospace"),
    )


CSS = """
.gradio-container { max-width: 1320px !important; }
.iqa-header h1 { font-size: 1.55rem; font-weight: 600; margin: 0.2rem 0 0.15rem;
  letter-spacing: -0.01em; }
.iqa-header p { margin: 0 0 0.4rem; color: var(--body-text-color-subdued); max-width: 60rem; }
.iqa-kicker code { text-transform: none; letter-spacing: 0; }
.iqa-kicker { font-size: 0.72rem; text-transform: uppercase; letter-spacing: 0.08em;
  font-weight: 600; color: var(--body-text-color-subdued); display: flex; gap: 0.8rem;
  align-items: center; justify-content: space-between; flex-wrap: wrap;
  margin-bottom: 0.45rem; }
.iqa-card { border: 1px solid var(--border-color-primary); border-left-width: 4px;
  border-radius: 6px; padding: 0.9rem 1.1rem 0.8rem; background: var(--background-fill-primary); }
.iqa-found { border-left-color: #2563eb; }
.iqa-notfound, .iqa-none { border-left-color: #b45309; }
.iqa-notfound .iqa-kicker, .iqa-none .iqa-kicker { color: #b45309; font-size: 0.8rem; }
.iqa-card p { margin: 0.2rem 0; line-height: 1.5; }
.iqa-conf { text-transform: none; letter-spacing: 0; font-weight: 500; display: inline-flex;
  align-items: center; gap: 0.45rem; }
.iqa-meter { display: inline-block; width: 64px; height: 6px; border-radius: 3px;
  background: var(--border-color-primary); overflow: hidden; }
.iqa-meter > span { display: block; height: 100%; background: #16a34a; }
.iqa-passage, .iqa-text, .iqa-doc { font-family: 'Lora', Georgia, 'Liberation Serif', serif; }
blockquote.iqa-passage { margin: 0 0 0.6rem; padding: 0; border: 0; font-size: 1.02rem;
  line-height: 1.62; color: var(--body-text-color); }
.iqa-title { font-weight: 600; }
.iqa-source-line { margin-top: 0.2rem; }
.iqa-meta { font-size: 0.8rem; color: var(--body-text-color-subdued); line-height: 1.7; }
.iqa-sep { opacity: 0.6; }
.iqa-pagebreak { display: block; margin: 1em 0; border-top: 1px dashed currentColor; opacity: 0.55; font-size: 0.8em; text-align: right; }
.iqa-page { margin-left: 0.5em; font-weight: 600; }
.iqa-cites { margin-top: 0.15rem; }
.iqa-label { font-size: 0.7rem; text-transform: uppercase; letter-spacing: 0.06em; }
code.iqa-cite { font-family: var(--font-mono); font-size: 0.76rem; padding: 0.05rem 0.35rem;
  border-radius: 3px; background: var(--background-fill-secondary);
  border: 1px solid var(--border-color-primary); white-space: nowrap; }
.iqa-score { font-variant-numeric: tabular-nums; }
mark.iqa-ans { background: #fde68a; color: #1c1917; border-bottom: 2px solid #d97706;
  padding: 0; }
mark.iqa-qw { background: transparent; color: inherit; font-weight: 600;
  text-decoration: underline; text-decoration-color: #64748b; text-underline-offset: 3px; }
mark.iqa-ans.iqa-qw { background: #fde68a; color: #1c1917; }
mark.iqa-span { background: #dbeafe; color: #0f172a; padding: 0; }
mark.iqa-span.iqa-ans { background: #fde68a; color: #1c1917; }
.iqa-timing { font-size: 0.75rem; color: var(--body-text-color-subdued); text-align: right;
  font-variant-numeric: tabular-nums; margin-top: 0.25rem; }
.iqa-h { font-size: 0.72rem; text-transform: uppercase; letter-spacing: 0.08em; font-weight: 600;
  color: var(--body-text-color-subdued); margin: 0.1rem 0 0.4rem; }
.iqa-count { text-transform: none; letter-spacing: 0; font-weight: 400; }
ol.iqa-list, ul.iqa-list { list-style: none; margin: 0; padding: 0; }
.iqa-tl-report { margin-bottom: 14px; }
.iqa-tl-report ul.iqa-list { margin-top: 6px; }
.iqa-tl-date { font-weight: 600; margin-right: 8px; white-space: nowrap; }
li.iqa-passage-card { border: 1px solid var(--border-color-primary); border-radius: 6px;
  padding: 0.65rem 0.9rem 0.55rem; margin: 0 0 0.6rem; background: var(--background-fill-primary); }
li.iqa-passage-card.iqa-selected { border-color: #2563eb; box-shadow: 0 0 0 1px #2563eb; }
.iqa-passage-head { display: flex; align-items: baseline; gap: 0.55rem; }
.iqa-passage-head .iqa-title { flex: 1; }
.iqa-num { font-family: var(--font-mono); font-size: 0.75rem; color: var(--body-text-color-subdued);
  min-width: 1.2rem; }
.iqa-badge { font-size: 0.68rem; text-transform: uppercase; letter-spacing: 0.06em;
  color: #92400e; background: #fef3c7; border-radius: 3px; padding: 0.05rem 0.35rem; }
button.iqa-show { font-size: 0.75rem; padding: 0.15rem 0.55rem; border-radius: 4px;
  border: 1px solid var(--border-color-primary); background: var(--background-fill-secondary);
  color: var(--body-text-color); cursor: pointer; white-space: nowrap; }
button.iqa-show:hover { border-color: #2563eb; color: #2563eb; }
p.iqa-text { margin: 0.35rem 0 0.1rem; font-size: 0.93rem; line-height: 1.55; }
#iqa-right { position: sticky; top: 0.5rem; align-self: flex-start; }
.iqa-sourceview { border: 1px solid var(--border-color-primary); border-radius: 6px;
  background: var(--background-fill-primary); }
.iqa-source-head { padding: 0.75rem 1rem 0.6rem;
  border-bottom: 1px solid var(--border-color-primary); }
.iqa-doc-title { font-weight: 600; font-size: 1.02rem; margin-bottom: 0.1rem; }
.iqa-doc { position: relative; white-space: pre-wrap; tab-size: 4; overflow-wrap: anywhere;
  font-size: 0.92rem;  line-height: 1.6; padding: 0.8rem 1.1rem; max-height: 72vh; overflow-y: auto; }
.iqa-empty { padding: 0.9rem 1.1rem; color: var(--body-text-color-subdued); }
.iqa-empty p { margin: 0; }
.iqa-facts { display: grid; grid-template-columns: max-content 1fr; gap: 0.2rem 1.2rem;
  margin: 0.4rem 0 1rem; font-size: 0.9rem; }
.iqa-facts dt { color: var(--body-text-color-subdued); }
.iqa-facts dd { margin: 0; }
table.iqa-table { border-collapse: collapse; width: 100%; font-size: 0.86rem; border: 0; }
.iqa-table, .iqa-table tr, .iqa-table th, .iqa-table td { border-left: 0 !important;
  border-right: 0 !important; border-top: 0 !important; background: transparent; }
.iqa-table th { text-align: left; font-weight: 600; font-size: 0.72rem; text-transform: uppercase;
  letter-spacing: 0.06em; color: var(--body-text-color-subdued);
  border-bottom: 1px solid var(--border-color-primary); padding: 0.4rem 0.6rem; }
.iqa-table td { vertical-align: top; padding: 0.5rem 0.6rem;
  border-bottom: 1px solid var(--border-color-primary); }
.iqa-table td:nth-child(n+7), .iqa-table th:nth-child(n+7) { text-align: right;
  font-variant-numeric: tabular-nums; }
.iqa-table td:nth-child(3) { white-space: nowrap; }
@media (max-width: 640px) {
  code.iqa-cite { white-space: normal; word-break: break-all; }
  .iqa-doc { max-height: 60vh; }
}
"""

#: Runs in the cited-passages component: "Show in source" sends the passage's number.
PASSAGES_JS = """
element.addEventListener('click', (event) => {
  const button = event.target.closest('button.iqa-show');
  if (button) trigger('show', {index: Number(button.dataset.index)});
});
"""

#: Runs in the source view: after each update, scroll the document so the cited span is in view.
SOURCE_JS = """
const reveal = () => {
  const doc = element.querySelector('.iqa-doc');
  const span = element.querySelector('mark.iqa-span');
  if (!doc || !span) return;
  doc.scrollTop = Math.max(0, span.offsetTop - doc.clientHeight / 4);
  const view = element.querySelector('[data-chosen]');
  const box = element.getBoundingClientRect();
  if (view && (box.top < 0 || box.top > window.innerHeight * 0.6)) {
    element.scrollIntoView({block: 'start'});
  }
};
// Re-run whenever the server sends a new view (a MutationObserver works in every Gradio 6).
new MutationObserver(reveal).observe(element, {childList: true, subtree: true});
reveal();
"""
