/**
 * The stylesheet of every page the service shows a payer (the checkout, its error pages, the
 * channels' return page), served as /checkout/assets/checkout.css: the pages carry no style block
 * or attribute, so they work under `style-src 'self'`.
 */
export const CHECKOUT_CSS = `
:root{--ink:#1d2330;--muted:#5d6675;--line:#dfe3ea;--bg:#f4f6f9;--card:#fff;--accent:#1559d6;--accent-ink:#fff;--ok:#177245;--ok-bg:#e7f6ee;--warn:#8a5300;--warn-bg:#fff4e0;--bad:#a1262b;--bad-bg:#fdecec;color-scheme:light}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;min-height:100vh;background:var(--bg);color:var(--ink);font:16px/1.5 system-ui,-apple-system,"Segoe UI","PingFang SC","Hiragino Sans GB","Microsoft YaHei","Noto Sans CJK SC",sans-serif;display:flex;justify-content:center;align-items:flex-start;padding:2rem 1rem}
main{width:100%;max-width:28rem;background:var(--card);border:1px solid var(--line);border-radius:14px;box-shadow:0 6px 24px rgba(20,30,60,.08);padding:1.5rem 1.5rem 1.25rem;position:relative}
h1{font-size:1.25rem;margin:0 0 .25rem}
h2{font-size:1.1rem;margin:0 0 .75rem}
p{margin:.5rem 0}
[hidden]{display:none!important}
.lang{position:absolute;top:1rem;right:1.25rem;font-size:.85rem}
.lang a{color:var(--muted);text-decoration:none;margin-left:.5rem}
.lang a[aria-current]{color:var(--ink);font-weight:600}
.summary{border-bottom:1px solid var(--line);padding-bottom:1rem;margin-bottom:1rem}
.summary h1{padding-right:7rem}
.ref strong{font-weight:500}
.amount{font-size:2rem;font-weight:700;letter-spacing:-.01em;margin:.25rem 0}
.muted,.ref{color:var(--muted);font-size:.9rem}
.countdown{font-variant-numeric:tabular-nums;color:var(--muted);font-size:.95rem}
.status{color:var(--muted)}
.channels{display:grid;gap:.6rem;margin:.75rem 0}
button,.button{appearance:none;display:block;width:100%;font:inherit;font-weight:600;text-align:center;text-decoration:none;padding:.8rem 1rem;border-radius:10px;border:1px solid var(--accent);background:var(--accent);color:var(--accent-ink);cursor:pointer}
button.secondary,.button.secondary{background:var(--card);color:var(--accent)}
button:disabled{opacity:.45;cursor:not-allowed}
button:focus-visible,a:focus-visible{outline:3px solid #8fb3ff;outline-offset:2px}
.note{padding:.6rem .8rem;border-radius:8px;background:var(--warn-bg);color:var(--warn);font-size:.95rem}
.result{text-align:center;padding:.5rem 0}
.result .mark{width:3.5rem;height:3.5rem;border-radius:50%;margin:.25rem auto .75rem;display:flex;align-items:center;justify-content:center;font-size:1.8rem;font-weight:700}
.result.ok .mark{background:var(--ok-bg);color:var(--ok)}
.result.ok .mark::before{content:"\\2713"}
.result.ended .mark,.result.bad .mark{background:var(--bad-bg);color:var(--bad)}
.result.ended .mark::before,.result.bad .mark::before{content:"\\00D7"}
.result.wait .mark{background:var(--warn-bg);color:var(--warn)}
.result.wait .mark::before{content:"\\2026"}
.result .button{margin-top:1rem}
.overlay{position:fixed;inset:0;background:rgba(15,20,35,.45);display:flex;align-items:center;justify-content:center;padding:1rem;z-index:10}
.dialog{background:var(--card);border-radius:14px;max-width:24rem;width:100%;padding:1.4rem;box-shadow:0 12px 40px rgba(0,0,0,.25)}
.dialog .actions{display:grid;gap:.6rem;margin-top:1rem}
@media (prefers-color-scheme:dark){:root{--ink:#e8ebf1;--muted:#a3abb9;--line:#2c3342;--bg:#11151d;--card:#1a202b;--accent:#4d8bff;--ok-bg:#15382a;--ok:#6fd3a0;--warn-bg:#3a2e14;--warn:#f1c26b;--bad-bg:#3d1c1f;--bad:#ff9a9f;color-scheme:dark}}
`;
