// Nvwa replay viewer: loads a GLB exported by Nvwa (or any glTF with the same layout) and replays it in
// slow motion, frozen or live, from any angle, in the browser or a WebXR headset.
//
// URL parameters: ?src=<glb url> (else drag and drop a .glb), &video=<source video url> (picture in
// picture), &speed=<0.05..2>, &t=<start time s>, &autoplay=0, &overlays=0 (bodies only: no labels,
// trails or foot marks).
// State for tests and embedding: window.nvwaViewer (see `api` below).
import * as THREE from "three";
import { GLTFLoader } from "three/examples/jsm/loaders/GLTFLoader.js";
import { OrbitControls } from "three/examples/jsm/controls/OrbitControls.js";
import { CSS2DRenderer, CSS2DObject } from "three/examples/jsm/renderers/CSS2DRenderer.js";
import { VRButton } from "three/examples/jsm/webxr/VRButton.js";
import { ARButton } from "three/examples/jsm/webxr/ARButton.js";

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const MIN_SPEED = 0.05, MAX_SPEED = 2;
const TRAIL_S = 1.5;
const OVERLAYS = params.get("overlays") !== "0";  // &overlays=0: bodies only, no labels, trails or foot marks
const FOOT_JOINTS = { left: "left_foot", right: "right_foot" };

// -- renderer, scene, cameras ------------------------------------------------------------------
// a software renderer (a machine without a GPU: SwiftShader, llvmpipe) spends most of each frame on
// multisampling and extra pixels: there the viewer draws without antialiasing at one pixel per CSS pixel
function softwareRenderer() {
  try {
    const gl = document.createElement("canvas").getContext("webgl2");
    const info = gl && gl.getExtension("WEBGL_debug_renderer_info");
    const name = info ? String(gl.getParameter(info.UNMASKED_RENDERER_WEBGL)) : "";
    gl?.getExtension("WEBGL_lose_context")?.loseContext();
    return /swiftshader|llvmpipe|softpipe|software/i.test(name);
  } catch {
    return false;
  }
}
const SOFTWARE = softwareRenderer();
const renderer = new THREE.WebGLRenderer({ antialias: !SOFTWARE, preserveDrawingBuffer: true });
renderer.setPixelRatio(SOFTWARE ? 1 : Math.min(window.devicePixelRatio, 2));
renderer.setSize(window.innerWidth, window.innerHeight);
renderer.xr.enabled = true;
$("stage").appendChild(renderer.domElement);
const labels = new CSS2DRenderer();
labels.setSize(window.innerWidth, window.innerHeight);
labels.domElement.className = "labels";
$("stage").appendChild(labels.domElement);

const scene = new THREE.Scene();
scene.background = new THREE.Color(0x15171c);
scene.add(new THREE.HemisphereLight(0xffffff, 0x404048, 2.2));
const sun = new THREE.DirectionalLight(0xffffff, 1.6);
sun.position.set(3, 6, 4);
scene.add(sun);
const grid = new THREE.GridHelper(40, 40, 0x5a606c, 0x30343c);
grid.position.y = 0.001;
scene.add(grid);

const camera = new THREE.PerspectiveCamera(50, window.innerWidth / window.innerHeight, 0.02, 500);
camera.position.set(0, 2.5, 6);
const controls = new OrbitControls(camera, renderer.domElement);
controls.target.set(0, 1, 0);
controls.enableDamping = true;
// The camera stays above the floor and near the people: orbit stops at the horizon, zoom and pan are
// bounded by the scene's extent (set on load), and every mode is clamped each frame (clampCamera).
const MIN_EYE_M = 0.15;
controls.maxPolarAngle = Math.PI / 2 - 0.03;
controls.minDistance = 0.3;
const sceneBounds = new THREE.Box3(new THREE.Vector3(-10, 0, -10), new THREE.Vector3(10, 5, 10));

// -- state ------------------------------------------------------------------------------------
const state = {
  ready: false, error: null, src: null, duration: 0, time: 0, speed: 1, playing: true, frozen: false, loop: true,
  frameStep: 1 / 30, timeScale: 1, people: [], follow: null, cameraMode: "orbit", skeleton: false, xr: { vr: "checking", ar: "checking" },
  wallStart: performance.now(), pip: null,
};
let mixer = null, action = null, videoCamera = null, gltfRoot = null;
const fly = { keys: new Set(), speed: 2.5 };

function setStatus(text) { $("status").textContent = text; }

// -- loading ----------------------------------------------------------------------------------
// on a software renderer, physically based shading per pixel is most of a frame: Lambert shading (the
// same colours, lit per vertex) keeps a crowd moving smoothly
function cheapMaterials(root) {
  root.traverse((o) => {
    if (!o.isMesh || !o.material?.isMeshStandardMaterial) return;
    const m = o.material;
    o.material = new THREE.MeshLambertMaterial({ color: m.color, map: m.map, vertexColors: m.vertexColors,
      side: m.side, transparent: m.transparent, opacity: m.opacity, name: m.name });
    m.dispose();
  });
}

async function load(url) {
  setStatus("loading " + url);
  state.ready = false;
  const gltf = await new GLTFLoader().loadAsync(url);
  if (gltfRoot) scene.remove(gltfRoot);
  for (const p of state.people) { p.trail.geometry.dispose(); scene.remove(p.trail); scene.remove(p.contactMarks); }
  gltfRoot = gltf.scene;
  if (SOFTWARE) cheapMaterials(gltfRoot);
  scene.add(gltfRoot);
  const extras = gltf.parser.json.scenes?.[gltf.parser.json.scene ?? 0]?.extras ?? {};
  const fps = Number(extras.fps) || 30;
  state.frameStep = 1 / fps;
  // a slow motion (or a time-lapse) is replayed in real time: its video plays time_scale seconds of it a second
  const timeScale = Number(extras.time_scale);
  state.timeScale = Number.isFinite(timeScale) && timeScale > 0 ? Math.min(1e6, Math.max(1e-6, timeScale)) : 1;
  state.src = url;

  // the video camera (a glTF camera node), kept for "snap to camera"
  videoCamera = null;
  gltf.scene.traverse((o) => { if (o.isCamera && !videoCamera) videoCamera = o; });

  // people: nodes named person_<id> with a person_id in extras
  state.people = [];
  gltf.scene.traverse((o) => {
    const id = o.userData?.person_id;
    if (id === undefined || !/^person_\d+$/.test(o.name)) return;
    const body = gltf.scene.getObjectByName(o.userData.body || `${o.name}_body`);
    // colour: "#rrggbb" (sRGB; files before 0.2 held a linear [r, g, b] list)
    const c = o.userData.colour;
    const colour = typeof c === "string" ? new THREE.Color(c) : new THREE.Color().fromArray(Array.isArray(c) ? c : [1, 1, 1]);
    if (body) body.frustumCulled = false;  // a few people: drawing them always costs less than a wrong cull
    const joints = {};
    o.traverse((j) => { if (j.isBone || j.name.startsWith(o.name + "_")) joints[j.name.slice(o.name.length + 1)] = j; });
    const label = document.createElement("div");
    label.className = "label";
    label.textContent = `#${id}`;
    label.style.borderColor = "#" + colour.getHexString(THREE.SRGBColorSpace);
    const tag = new CSS2DObject(label);
    tag.position.set(0, 0.75, 0);
    (joints.head || o).add(tag);
    const trail = new THREE.Line(new THREE.BufferGeometry(), new THREE.LineBasicMaterial({ color: colour }));
    trail.frustumCulled = false;
    scene.add(trail);
    const contactMarks = new THREE.Group();
    scene.add(contactMarks);
    for (const side of ["left", "right"]) {
      const mark = new THREE.Mesh(new THREE.RingGeometry(0.05, 0.08, 24), new THREE.MeshBasicMaterial({ color: 0xffd166, side: THREE.DoubleSide }));
      mark.rotation.x = -Math.PI / 2;
      mark.visible = false;
      mark.userData.side = side;
      contactMarks.add(mark);
    }
    // the skeleton (k): lines between the person's joints, drawn over nothing when the body is hidden
    const skeleton = new THREE.SkeletonHelper(o);
    skeleton.material.color = colour;
    skeleton.material.depthTest = false;
    skeleton.visible = false;
    scene.add(skeleton);
    state.people.push({ id, name: o.name, node: o, body, joints, skeleton, colour: "#" + colour.getHexString(THREE.SRGBColorSpace),
      visible: true, tag, trail, contactMarks, contacts: parseContacts(o.userData.contacts),
      first_s: Number(o.userData.first_s) || 0, last_s: Number(o.userData.last_s) || 0 });
  });

  mixer = new THREE.AnimationMixer(gltf.scene);
  action = null;
  state.duration = 0;
  for (const p of state.people) {
    const pelvis = p.joints.pelvis;
    p.pelvisTrack = gltf.animations[0]?.tracks.find((tr) => pelvis && tr.name === `${pelvis.name}.position`) || null;
  }
  if (gltf.animations.length) {
    action = mixer.clipAction(gltf.animations[0]);
    action.play();
    state.duration = gltf.animations[0].duration;
  }
  state.time = Math.min(Number(params.get("t")) || 0, state.duration);
  setSpeed(Number(params.get("speed")) || 1);
  if (params.get("autoplay") === "0") state.playing = false;
  buildPeoplePanel();
  buildTracks();
  frameView();
  applyTime();
  state.ready = true;
  state.wallStart = performance.now();
  const times = (x) => Number(x.toPrecision(3));
  const pace = state.timeScale < 1 ? `, shown in real time (the video is slowed ${times(1 / state.timeScale)}x)`
    : state.timeScale > 1 ? `, shown in real time (the video is sped up ${times(state.timeScale)}x)` : "";
  state.loaded = `${state.people.length} people, ${state.duration.toFixed(2)} s at ${fps >= 1 ? fps.toFixed(2) : fps.toPrecision(2)} fps${pace}`;
  setStatus(state.loaded + (state.pip?.startsWith("picture in picture off") ? ` (${state.pip})` : ""));
  $("drop").hidden = true;
}

function frameView() {
  // the people's pelvis paths (the skinned meshes' own bounds are their bind pose, not where they walk)
  const box = new THREE.Box3();
  for (const p of state.people) {
    const v = p.pelvisTrack?.values;
    for (let i = 0; v && i < v.length; i += 3) box.expandByPoint(new THREE.Vector3(v[i], v[i + 1], v[i + 2]));
  }
  if (box.isEmpty()) box.setFromCenterAndSize(new THREE.Vector3(0, 1, 0), new THREE.Vector3(2, 2, 2));
  // where the camera may go: the people's ground plus the video camera, with room around them
  sceneBounds.copy(box);
  if (videoCamera) sceneBounds.expandByPoint(new THREE.Vector3().setFromMatrixPosition(videoCamera.matrixWorld));
  sceneBounds.expandByScalar(3);
  sceneBounds.min.y = 0;
  sceneBounds.max.y = Math.max(sceneBounds.max.y, 3);
  controls.maxDistance = Math.max(5, 2 * sceneBounds.getSize(new THREE.Vector3()).length());
  const c = box.getCenter(new THREE.Vector3());
  c.y = 0.9;
  controls.target.copy(c);
  if (videoCamera) {
    // start where the video was filmed from, looking at the people: the familiar view, then orbit away
    videoCamera.updateWorldMatrix(true, false);
    camera.position.setFromMatrixPosition(videoCamera.matrixWorld);
    camera.fov = videoCamera.fov;
    camera.updateProjectionMatrix();
  } else {
    const size = Math.max(3, box.getSize(new THREE.Vector3()).length());
    camera.position.set(c.x + size * 0.5, 1.6 + size * 0.3, c.z + size * 0.8);
  }
  camera.lookAt(c);
  controls.update();
}

// -- time ------------------------------------------------------------------------------------
function setSpeed(s) {
  state.speed = Math.min(MAX_SPEED, Math.max(MIN_SPEED, s));
  $("speed").value = String(state.speed);
  $("speedLabel").textContent = state.speed.toFixed(2) + "x";
}

function setTime(t) {
  state.time = Math.min(Math.max(0, t), state.duration);
  applyTime();
}

function applyTime() {
  if (mixer) mixer.setTime(state.time); // the mixer interpolates between keys: slow motion does not stutter
  gltfRoot?.updateMatrixWorld(true);
  $("scrub").value = String(state.duration ? state.time / state.duration : 0);
  $("clock").textContent = `${state.time.toFixed(2)} / ${state.duration.toFixed(2)} s`;
  updatePeople();
  syncVideo();
}

function inContact(p, side, t) {
  return (p.contacts[side] || []).some(([a, b]) => t >= a && t <= b);
}

// contact intervals: a JSON string {"left": [[s, e], ...], "right": [...]} (an object in files before 0.2)
function parseContacts(c) {
  try {
    const v = typeof c === "string" ? JSON.parse(c) : c;
    return { left: Array.isArray(v?.left) ? v.left : [], right: Array.isArray(v?.right) ? v.right : [] };
  } catch { return { left: [], right: [] }; }
}

// present now: the file folds an absent person's pelvis (older files: the person node) to scale 0
function isPresent(p) { return p.node.scale.x > 0 && (p.joints.pelvis ? p.joints.pelvis.scale.x > 0 : true); }

function updatePeople() {
  const t = state.time;
  for (const p of state.people) {
    const shown = p.visible && isPresent(p);
    if (p.body) p.body.visible = p.visible && !state.skeleton;
    p.skeleton.visible = shown && state.skeleton;
    p.tag.visible = shown && OVERLAYS;
    p.trail.visible = shown && OVERLAYS;
    // motion trail: the pelvis keys of the last TRAIL_S seconds, on the floor
    const pts = [];
    const track = p.pelvisTrack;
    if (shown && track) {
      const times = track.times, v = track.values;
      for (let i = 0; i < times.length; i++) {
        if (times[i] < t - TRAIL_S) continue;
        if (times[i] > t) break;
        pts.push(new THREE.Vector3(v[3 * i], 0.01, v[3 * i + 2]));
      }
    }
    p.trail.geometry.setFromPoints(pts);
    for (const mark of p.contactMarks.children) {
      const j = p.joints[FOOT_JOINTS[mark.userData.side]];
      const on = shown && OVERLAYS && j && inContact(p, mark.userData.side, t);
      mark.visible = !!on;
      if (on) { const w = new THREE.Vector3().setFromMatrixPosition(j.matrixWorld); mark.position.set(w.x, 0.005, w.z); }
    }
  }
}

// -- picture in picture --------------------------------------------------------------------------
const video = $("pip");
const PIP_DOWNLOAD_MAX_BYTES = 512 * 1024 * 1024;
// Seeking a <video> needs HTTP ranges (206). A server without them (python -m http.server) gets the file
// downloaded once and played from memory; too big for that, the picture in picture says why it stays off.
async function openVideo(url) {
  let ranged = false;
  try {
    const probe = await fetch(url, { headers: { Range: "bytes=0-0" } });
    ranged = probe.status === 206;
    if (probe.body) probe.body.cancel().catch(() => {});
    if (!probe.ok) throw new Error(`HTTP ${probe.status}`);
  } catch (err) { state.pip = `picture in picture off: ${url}: ${err.message}`; return; }
  if (ranged) { video.src = url; }
  else {
    const head = await fetch(url, { method: "HEAD" }).catch(() => null);
    const size = Number(head?.headers.get("content-length") || 0);
    if (size > PIP_DOWNLOAD_MAX_BYTES) { state.pip = `picture in picture off: ${url} is served without HTTP ranges and is too big to download (${(size / 1e6).toFixed(0)} MB)`; return; }
    video.src = URL.createObjectURL(await (await fetch(url)).blob());
  }
  video.hidden = false;
  state.pip = ranged ? "ranges" : "downloaded";
}
video.addEventListener("loadedmetadata", () => { video.currentTime = videoTime(); syncVideo(); });
// A video the browser cannot play (an AVI, a camcorder's .MTS, HEVC where the browser has no decoder): the
// picture is hidden and the reason kept, never a blank box
const PIP_ERRORS = { 1: "its loading was stopped", 2: "a network error stopped it", 3: "it could not be decoded",
  4: "this browser cannot play this kind of video (convert it to H.264 MP4 or WebM to see it here)" };
video.addEventListener("error", () => {
  if (!params.get("video")) return;
  video.hidden = true;
  state.pip = `picture in picture off: ${params.get("video")}: ${PIP_ERRORS[video.error?.code] || "it could not be played"}`;
  console.warn(state.pip);
  if (state.ready) setStatus(`${state.loaded} (${state.pip})`);
});
if (params.get("video") && sameOrigin(params.get("video"))) openVideo(params.get("video"));
// the scene's time in the video's own seconds (a 4x slow motion's scene second is four of its video's)
function videoTime() { return state.time / state.timeScale; }
let lastSeek = 0;
function syncVideo() {
  if (video.hidden || !video.duration) return;
  // a browser plays a video at 1/16 to 16 times its speed: past that (a 32x slow motion in real time, a
  // time-lapse played slowly) the picture is not played but shown at the scene's moment, a few times a second
  const rate = state.speed / state.timeScale, playable = rate >= 0.0625 && rate <= 16;
  video.playbackRate = Math.min(16, Math.max(0.0625, rate));
  const still = !state.playing || state.frozen, shouldPlay = !still && playable;
  const now = performance.now(), off = Math.abs(video.currentTime - videoTime()) > 0.15;
  if (still || (off && (playable || now - lastSeek > 250))) {
    video.currentTime = videoTime();
    lastSeek = now;
  }
  if (shouldPlay && video.paused) video.play().catch(() => {});
  if (!shouldPlay && !video.paused) video.pause();
}

// -- UI ---------------------------------------------------------------------------------------------
function buildPeoplePanel() {
  const list = $("people");
  list.replaceChildren();
  for (const p of state.people) {
    // Built node by node: a GLB's strings (person ids, names) are text, never markup.
    const row = document.createElement("label");
    const box = document.createElement("input");
    box.type = "checkbox";
    box.checked = true;
    box.addEventListener("change", (e) => { p.visible = e.target.checked; updatePeople(); });
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = p.colour;
    const follow = document.createElement("button");
    follow.title = "follow";
    follow.textContent = "follow";
    follow.addEventListener("click", () => followPerson(state.follow === p.id ? null : p.id));
    row.append(box, " ", swatch, ` #${p.id} `, follow);
    list.appendChild(row);
  }
}

function buildTracks() {
  const tracks = $("tracks");
  tracks.replaceChildren();
  for (const p of state.people) {
    const bar = document.createElement("div");
    bar.className = "track";
    const d = state.duration || 1;
    bar.style.left = (100 * p.first_s) / d + "%";
    bar.style.width = Math.max(0.5, (100 * (p.last_s - p.first_s)) / d) + "%";
    bar.style.background = p.colour;
    bar.title = `#${p.id}: ${p.first_s.toFixed(2)}-${p.last_s.toFixed(2)} s`;  // title is text, not markup
    tracks.appendChild(bar);
  }
}

function togglePlay() { state.playing = !state.playing; $("play").textContent = state.playing ? "pause" : "play"; syncVideo(); }
function toggleFreeze() { state.frozen = !state.frozen; $("freeze").classList.toggle("on", state.frozen); syncVideo(); }
function step(n) { state.playing = false; $("play").textContent = "play"; setTime(state.time + n * state.frameStep); }

function snapToVideoCamera() {
  if (!videoCamera) return false;
  state.cameraMode = "video";
  return atVideoCamera();
}

// a zooming camera's field of view at scene time t (deg): its zoom (focal over the first frame's) at each
// analysed frame, from the GLB's camera extras (glTF cannot animate a field of view), between frames
// linearly, 1/20x-20x; keys that are not numbers leave the camera's own field of view
function videoCameraFov(t) {
  const keys = videoCamera.userData?.zoom_at, times = keys?.times_s, zoom = keys?.zoom;
  const number = (x) => typeof x === "number" && Number.isFinite(x);
  if (!Array.isArray(times) || !Array.isArray(zoom) || times.length !== zoom.length || !times.length) return videoCamera.fov;
  let k = 0, hi = times.length - 1;  // the last key at or before t
  while (k < hi) { const mid = (k + hi + 1) >> 1; if (times[mid] <= t) k = mid; else hi = mid - 1; }
  const j = Math.min(k + 1, times.length - 1);
  if (![times[k], times[j], zoom[k], zoom[j]].every(number)) return videoCamera.fov;
  const w = times[j] > times[k] ? Math.min(1, Math.max(0, (t - times[k]) / (times[j] - times[k]))) : 0;
  const z = Math.min(20, Math.max(0.05, zoom[k] * (1 - w) + zoom[j] * w));
  const half = Math.tan(THREE.MathUtils.degToRad(videoCamera.fov) / 2) / z;
  return Math.min(170, Math.max(1, THREE.MathUtils.radToDeg(2 * Math.atan(half))));
}

// the view from the video camera as it is now (a handheld camera's node is animated: followed every frame;
// a zooming one's field of view too)
function atVideoCamera() {
  videoCamera.updateWorldMatrix(true, false);
  camera.position.setFromMatrixPosition(videoCamera.matrixWorld);
  camera.quaternion.setFromRotationMatrix(videoCamera.matrixWorld);
  camera.fov = videoCameraFov(state.time);
  camera.updateProjectionMatrix();
  const ahead = new THREE.Vector3(0, 0, -5).applyQuaternion(camera.quaternion).add(camera.position);
  controls.target.copy(ahead);
  return true;
}

function followPerson(id) {
  state.follow = id;
  state.cameraMode = id === null ? "orbit" : "follow";
}

function toggleSkeleton() {
  state.skeleton = !state.skeleton;
  $("skeleton").classList.toggle("on", state.skeleton);
  updatePeople();
}

function setFly(on) {
  state.cameraMode = on ? "fly" : "orbit";
  controls.enabled = !on;
  $("fly").classList.toggle("on", on);
}

$("play").addEventListener("click", togglePlay);
$("freeze").addEventListener("click", toggleFreeze);
$("back").addEventListener("click", () => step(-1));
$("fwd").addEventListener("click", () => step(1));
$("loop").addEventListener("change", (e) => { state.loop = e.target.checked; });
$("speed").addEventListener("input", (e) => setSpeed(Number(e.target.value)));
$("scrub").addEventListener("input", (e) => setTime(Number(e.target.value) * state.duration));
$("snap").addEventListener("click", snapToVideoCamera);
$("fly").addEventListener("click", () => setFly(state.cameraMode !== "fly"));
$("skeleton").addEventListener("click", toggleSkeleton);
$("help").addEventListener("click", () => { $("keys").hidden = !$("keys").hidden; });

window.addEventListener("keydown", (e) => {
  if (e.target.tagName === "INPUT" && e.target.type !== "range" && e.target.type !== "checkbox") return;
  const k = e.key;
  if (state.cameraMode === "fly" && "wasdqe".includes(k.toLowerCase())) { fly.keys.add(k.toLowerCase()); return; }
  if (k === " ") { togglePlay(); e.preventDefault(); }
  else if (k === "f") toggleFreeze();
  else if (k === "ArrowRight" || k === ".") step(1);
  else if (k === "ArrowLeft" || k === ",") step(-1);
  else if (k === "+" || k === "=") setSpeed(state.speed * 2);
  else if (k === "-") setSpeed(state.speed / 2);
  else if (k === "c") snapToVideoCamera();
  else if (k === "v") setFly(state.cameraMode !== "fly");
  else if (k === "k") toggleSkeleton();
  else if (k === "o") { setFly(false); followPerson(null); }
  else if (k === "l") { state.loop = !state.loop; $("loop").checked = state.loop; }
  else if (/^[1-9]$/.test(k)) { const p = state.people[Number(k) - 1]; if (p) followPerson(state.follow === p.id ? null : p.id); }
  else if (k === "?") $("keys").hidden = !$("keys").hidden;
  else if (k === "Escape") $("keys").hidden = true;
});
window.addEventListener("keyup", (e) => fly.keys.delete(e.key.toLowerCase()));

window.addEventListener("resize", () => {
  camera.aspect = window.innerWidth / window.innerHeight;
  camera.updateProjectionMatrix();
  renderer.setSize(window.innerWidth, window.innerHeight);
  labels.setSize(window.innerWidth, window.innerHeight);
});

// drag and drop a GLB
window.addEventListener("dragover", (e) => { e.preventDefault(); $("drop").hidden = false; });
window.addEventListener("drop", (e) => {
  e.preventDefault();
  const file = e.dataTransfer.files[0];
  if (file) load(URL.createObjectURL(file)).catch(fail);
});

// -- WebXR: the scene's floor (Y=0) is the room's floor (local-floor reference space) -------------------
renderer.xr.setReferenceSpaceType("local-floor");
const vrButton = VRButton.createButton(renderer);
vrButton.id = "vr";
$("xr").appendChild(vrButton);
async function probeXR() {
  const xr = navigator.xr;
  for (const mode of ["vr", "ar"]) {
    let ok = false;
    try { ok = !!xr && (await xr.isSessionSupported(mode === "vr" ? "immersive-vr" : "immersive-ar")); } catch { ok = false; }
    state.xr[mode] = ok ? "supported" : "unsupported";
  }
  if (state.xr.ar === "supported") {
    const arButton = ARButton.createButton(renderer, { optionalFeatures: ["local-floor"] });
    arButton.id = "ar";
    $("xr").appendChild(arButton);
  }
}
probeXR();
// controllers: trigger = play/pause, squeeze = freeze; thumbstick left/right (gamepad axes) = speed
for (const i of [0, 1]) {
  const c = renderer.xr.getController(i);
  c.addEventListener("select", togglePlay);
  c.addEventListener("squeeze", toggleFreeze);
  scene.add(c);
}
function xrGamepadSpeed() {
  const session = renderer.xr.getSession();
  if (!session) return;
  for (const src of session.inputSources) {
    const ax = src.gamepad?.axes?.[2] ?? 0;
    if (Math.abs(ax) > 0.6) setSpeed(state.speed * (ax > 0 ? 1.02 : 0.98));
  }
}

// -- loop ---------------------------------------------------------------------------------------
const clock = new THREE.Clock();
renderer.setAnimationLoop(() => {
  const dt = Math.min(clock.getDelta(), 0.25); // a stalled tab does not jump far
  if (state.ready && state.playing && !state.frozen && state.duration > 0) {
    let t = state.time + dt * state.speed;
    if (t > state.duration) t = state.loop ? t % state.duration : state.duration;
    state.time = t;
    applyTime();
  }
  xrGamepadSpeed();
  if (state.cameraMode === "fly") {
    const dir = new THREE.Vector3();
    if (fly.keys.has("w")) dir.z -= 1;
    if (fly.keys.has("s")) dir.z += 1;
    if (fly.keys.has("a")) dir.x -= 1;
    if (fly.keys.has("d")) dir.x += 1;
    if (fly.keys.has("e")) dir.y += 1;
    if (fly.keys.has("q")) dir.y -= 1;
    camera.position.add(dir.applyQuaternion(camera.quaternion).multiplyScalar(fly.speed * dt));
  } else if (state.cameraMode === "follow") {
    const p = state.people.find((q) => q.id === state.follow);
    const pelvis = p?.joints.pelvis;
    if (pelvis) {
      const w = new THREE.Vector3().setFromMatrixPosition(pelvis.matrixWorld);
      camera.position.add(w.clone().sub(controls.target));
      controls.target.copy(w);
    }
    controls.update();
  } else if (state.cameraMode === "video") {
    if (videoCamera) atVideoCamera();
  } else {
    controls.update();
  }
  if (state.cameraMode !== "video" && !renderer.xr.isPresenting) clampCamera();
  renderer.render(scene, camera);
  labels.render(scene, camera);
});
controls.addEventListener("start", () => { if (state.cameraMode === "video") state.cameraMode = "orbit"; });

// Above the floor, within the scene's bounds (the target too), at most maxDistance from the target.
function clampCamera() {
  const reach = new THREE.Box3(sceneBounds.min.clone(), sceneBounds.max.clone()).expandByScalar(controls.maxDistance / 2);
  controls.target.clamp(sceneBounds.min, sceneBounds.max);
  camera.position.clamp(reach.min, reach.max);
  const offset = camera.position.clone().sub(controls.target);
  if (offset.length() > controls.maxDistance) camera.position.copy(controls.target).add(offset.setLength(controls.maxDistance));
  if (camera.position.y < MIN_EYE_M) camera.position.y = MIN_EYE_M;
}

// -- the state object for tests and embedding ----------------------------------------------------
const api = {
  get ready() { return state.ready; },
  get error() { return state.error; },
  get duration() { return state.duration; },
  get time() { return state.time; },
  get speed() { return state.speed; },
  get timeScale() { return state.timeScale; },
  get playing() { return state.playing; },
  get frozen() { return state.frozen; },
  get cameraMode() { return state.cameraMode; },
  get skeleton() { return state.skeleton; },
  get softwareRenderer() { return SOFTWARE; },
  bodyMaterials() { return [...new Set(state.people.filter((p) => p.body).map((p) => p.body.material.type))].sort(); },  // true: skeletons drawn instead of the bodies (k)
  toggleSkeleton,
  get xr() { return { ...state.xr }; },
  get pip() { return state.pip; },  // "ranges", "downloaded", or why it is off; null without &video=
  get people() { return state.people.map((p) => ({ id: p.id, name: p.name, colour: p.colour, visible: p.visible, first_s: p.first_s, last_s: p.last_s })); },
  load, setTime, setSpeed, togglePlay, toggleFreeze, step, snapToVideoCamera, followPerson,
  play() { if (!state.playing) togglePlay(); },
  pause() { if (state.playing) togglePlay(); },
  // where a joint is on the page now: [x, y] CSS pixels from the top left, null behind the camera
  project(personId, joint) {
    const w = this.jointPosition(personId, joint);
    if (!w) return null;
    const ndc = new THREE.Vector3(...w).project(camera);
    if (ndc.z > 1 || ndc.z < -1) return null;
    return [(ndc.x + 1) / 2 * innerWidth, (1 - ndc.y) / 2 * innerHeight];
  },
  jointPosition(personId, joint) {
    const p = state.people.find((q) => q.id === personId);
    const j = p?.joints[joint];
    if (!j) return null;
    j.updateWorldMatrix(true, false);
    return new THREE.Vector3().setFromMatrixPosition(j.matrixWorld).toArray();
  },
  cameraPose() { return { position: camera.position.toArray(), quaternion: camera.quaternion.toArray(), fov: camera.fov }; },
};
window.nvwaViewer = api;

function fail(err) {
  state.error = String(err?.message || err);
  setStatus("could not load: " + state.error);
  console.warn("nvwa viewer:", state.error);
}

// ?src= and &video= are loaded only from this page's own origin: a link to the viewer must not make it
// load (and show) a file an attacker serves elsewhere. Other files: drag and drop.
function sameOrigin(url) {
  try { return new URL(url, location.href).origin === location.origin; } catch { return false; }
}

const src = params.get("src");
if (src && !sameOrigin(src)) fail(new Error("refusing ?src= from another origin: open it from this server, or drop the file here"));
else if (src) load(src).catch(fail);
else { $("drop").hidden = false; setStatus("drop a .glb exported by Nvwa here, or open ?src=<url>"); }
