// Counts each fault's time to the paper switch (§47) down, second by second, from what the
// board computed when it drew the page: the board's clock, not the browser's, is the truth.
"use strict";
(function () {
  const drawn = performance.now();
  const pad = (n) => String(n).padStart(2, "0");
  function tick() {
    const gone = Math.floor((performance.now() - drawn) / 1000);
    for (const clock of document.querySelectorAll(".countdown[data-seconds]")) {
      const left = Math.max(Number(clock.dataset.seconds) - gone, 0);
      const hours = Math.floor(left / 3600);
      const minutes = Math.floor((left % 3600) / 60);
      clock.textContent = `${hours}小时${pad(minutes)}分${pad(left % 60)}秒`;
      clock.classList.toggle("urgent", left < 4 * 3600);
    }
  }
  setInterval(tick, 1000);
})();
