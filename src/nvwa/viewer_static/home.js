// Nvwa's front page: pick (or film) a video, choose the few options that matter, watch the job's live
// progress from its event stream, then the replay opens in the viewer. Past jobs below. Every string from
// the server or a file name is shown as text (textContent), never as markup.
const $ = (id) => document.getElementById(id);
const STAGES = { queued: "waiting for a free slot", init: "reading the video", frame: "finding people and their poses",
  tracking: "linking people over time", grounded: "placing everyone on the floor", smoothed: "smoothing the motion",
  person: "writing the people", complete: "done", error: "failed", cancelled: "cancelled", retry: "restarting on another worker" };
let chosen = null;

function showError(text) { $("error").textContent = text; $("error").hidden = !text; }

// -- picking a video ---------------------------------------------------------------------------------
function choose(file) {
  chosen = file || null;
  $("pick").textContent = chosen ? `${chosen.name} (${(chosen.size / 1e6).toFixed(1)} MB)` : "Drop a video here, or tap to choose one";
  $("go").disabled = !chosen;
  showError("");
}
$("file").addEventListener("change", (e) => choose(e.target.files[0]));
for (const kind of ["dragenter", "dragover"]) $("drop").addEventListener(kind, (e) => { e.preventDefault(); $("drop").classList.add("over"); });
$("drop").addEventListener("dragleave", () => $("drop").classList.remove("over"));
$("drop").addEventListener("drop", (e) => { e.preventDefault(); $("drop").classList.remove("over"); choose(e.dataTransfer.files[0]); });

// -- upload, then follow the job ----------------------------------------------------------------------
$("upload").addEventListener("submit", (e) => {
  e.preventDefault();
  if (!chosen) return;
  const options = { smoothing: $("smoothing").value, max_side: Number($("max_side").value), max_fps: Number($("max_fps").value),
    capture_fps: Number($("capture_fps").value),
    exports: [...document.querySelectorAll("input[name=export]:checked")].map((b) => b.value).concat(["npz"]) };
  const form = new FormData();
  form.append("file", chosen, chosen.name);
  form.append("options", JSON.stringify(options));
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/jobs");
  xhr.upload.addEventListener("progress", (ev) => {
    if (ev.lengthComputable) setProgress("uploading", ev.loaded / ev.total, `${(ev.loaded / 1e6).toFixed(1)} of ${(ev.total / 1e6).toFixed(1)} MB`);
  });
  xhr.addEventListener("load", () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch { /* not JSON: say the status */ }
    if (xhr.status !== 202) { fail(body.detail || `upload refused (HTTP ${xhr.status})`); return; }
    follow(body.id);
  });
  xhr.addEventListener("error", () => fail("the upload did not reach the server (network error)"));
  $("go").disabled = true;
  $("job").hidden = false;
  $("open").hidden = true;
  showError("");
  setProgress("uploading", 0, "");
  xhr.send(form);
});

function setProgress(stage, fraction, detail) {
  $("stage").textContent = stage;
  if (fraction === null) $("progress").removeAttribute("value"); else $("progress").value = fraction;
  $("detail").textContent = detail;
}

function fail(message) {
  $("job").hidden = true;
  $("go").disabled = !chosen;
  showError(message);
  refreshJobs();
}

function follow(jobId) {
  const events = new EventSource(`/jobs/${encodeURIComponent(jobId)}/events`);
  let total = 0, started = null;
  const on = (kind, handler) => events.addEventListener(kind, (ev) => handler(JSON.parse(ev.data)));
  on("init", (d) => { total = d.total_frames || 0; started = performance.now(); setProgress(STAGES.init, null, d.message || ""); });
  on("frame", (d) => {
    const frac = d.total ? d.done / d.total : null;
    let eta = "";
    if (frac && started && d.done > 0) {
      const left = ((performance.now() - started) / 1000) * (1 / frac - 1);
      eta = `, about ${left < 90 ? Math.ceil(left) + " s" : Math.ceil(left / 60) + " min"} left`;
    }
    setProgress(STAGES.frame, frac, `frame ${d.done}${d.total ? " of " + d.total : ""}, ${d.people} people in view${eta}`);
  });
  for (const kind of ["queued", "tracking", "grounded", "smoothed", "person", "retry"]) {
    on(kind, (d) => setProgress(STAGES[kind], kind === "person" ? 1 : null, d.message || ""));
  }
  on("complete", (d) => {
    events.close();
    setProgress(STAGES.complete, 1, `${d.people} people, ${d.frames} frames`);
    const link = $("open");
    link.href = `/viewer/${encodeURIComponent(jobId)}`;
    link.hidden = false;
    refreshJobs();
    location.assign(link.href);  // the replay opens by itself; the link stays for the way back
  });
  for (const kind of ["error", "cancelled"]) {
    events.addEventListener(kind, (ev) => {
      if (!ev.data) return;  // a dropped connection also fires "error": EventSource reconnects by itself
      events.close();
      fail(JSON.parse(ev.data).message || kind);
    });
  }
}

// -- past jobs -----------------------------------------------------------------------------------------
async function refreshJobs() {
  let list;
  try {
    const r = await fetch("/jobs?limit=20");
    list = await r.json();
    if (!r.ok) throw new Error(list.detail || `HTTP ${r.status}`);
  } catch (err) { showError(`could not list the jobs: ${err.message}`); return; }
  const body = document.querySelector("#jobs tbody");
  body.replaceChildren(...list.jobs.map(row));
}

function cell(...children) { const td = document.createElement("td"); td.append(...children); return td; }

function row(job) {
  const tr = document.createElement("tr");
  tr.dataset.job = job.id;
  const thumb = document.createElement("video");
  thumb.muted = true;
  thumb.preload = "metadata";
  thumb.src = `${job.links.self}/video#t=0.5`;  // the browser shows that frame: the job's thumbnail
  const status = document.createElement("span");
  status.className = "status";
  status.textContent = job.status + (job.error ? `: ${job.error}` : "");
  const people = job.summary?.people?.length ?? "";
  const actions = document.createElement("span");
  if (job.artifacts.some((a) => a.name === "scene.glb")) {
    const a = document.createElement("a");
    a.href = job.links.viewer;
    a.textContent = "replay";
    actions.append(a, " ");
  }
  const del = document.createElement("button");
  del.textContent = "delete";
  del.addEventListener("click", async () => {
    const r = await fetch(job.links.self, { method: "DELETE" });
    if (!r.ok && r.status !== 404) showError((await r.json().catch(() => ({}))).detail || `delete failed (HTTP ${r.status})`);
    refreshJobs();
  });
  actions.append(del);
  tr.append(cell(thumb), cell(job.filename), cell(status), cell(String(people)), cell(new Date(job.created_at).toLocaleString()), cell(actions));
  return tr;
}

refreshJobs();
window.nvwaHome = { refreshJobs };
