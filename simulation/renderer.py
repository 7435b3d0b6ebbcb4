# Copyright 2026 ros2_ssvif contributors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Ray-casting renderer: scenes through both cameras of the rig.

Every pixel of each camera casts its own ray (from ``pixel_rays``, so the
raw distortion is in the image) from that camera's own centre, so the two
images differ by intrinsics, distortion, rotation and real parallax, and a
registration has to earn its result. The world is a ground plane, building
facades on two vertical planes along the road, and vertical "billboard"
silhouettes (people, vehicles, trees, poles, signs, lights) facing the road
axis. A z-buffer keeps the nearest hit.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

import cv2
import numpy as np
from simulation.rig import PinholeCamera, Rig
from simulation.silhouettes import SILHOUETTES
from simulation.textures import MAT, MaterialTables, sample_noise
from simulation.world import (
    CONDITIONS,
    KIND_LABEL,
    RenderedPair,
    RoadLayout,
    Scene,
    SceneError,
    SceneObject,
    SKY,
)


@dataclass
class _CameraRays:
    """One camera's rays in the ego frame (X right, Y forward, Z up) and its centre."""

    cam: PinholeCamera
    R_ego_cam: np.ndarray
    origin: np.ndarray  # camera centre, ego frame (z above the road)
    dx: np.ndarray
    dy: np.ndarray
    dz: np.ndarray
    elev: np.ndarray  # sine of the ray's elevation (sky gradient)
    ground_s: np.ndarray  # depth to the road plane, inf where the ray misses it
    ground_x: np.ndarray  # hit point relative to the ego, metres
    ground_y: np.ndarray


@dataclass
class _Buffers:
    depth: np.ndarray
    mat: np.ndarray
    label: np.ndarray
    obj: np.ndarray  # index into the colour/temperature tables of the frame
    tu: np.ndarray
    tv: np.ndarray


def _pitch_rotation(pitch_deg: float) -> np.ndarray:
    """Camera (x right, y down, z forward) -> ego (X right, Y forward, Z up), pitched down."""
    p = math.radians(pitch_deg)
    c, s = math.cos(p), math.sin(p)
    return np.array([[1.0, 0.0, 0.0], [0.0, -s, c], [0.0, -c, -s]])


class SceneRenderer:
    """Ray-casts scenes into the rig's two cameras; rays are computed once per rig."""

    GROUND_MAX = 1500.0  # metres; beyond this the road plane counts as the horizon

    def __init__(self, rig: Rig) -> None:
        self.rig = rig
        R_vis = _pitch_rotation(rig.mount_pitch_deg)
        c_vis = np.array([0.0, 0.0, float(rig.mount_height)])
        R_th = R_vis @ np.asarray(rig.R, float).T
        c_th = c_vis + R_vis @ (-np.asarray(rig.R, float).T @ np.asarray(rig.t, float))
        self.visible = self._rays(rig.visible, R_vis, c_vis)
        self.thermal = self._rays(rig.thermal, R_th, c_th)
        self.tables = MaterialTables()
        fpn_rng = np.random.default_rng(77)  # the thermal core's fixed column pattern
        self._column_fpn = fpn_rng.normal(0.0, 8.0, rig.thermal.width).astype(np.float32)
        self._ground_cache: dict = {}
        self._facade_cache: dict = {}
        self._vignette = {id(cr): self._radial(cr) for cr in (self.visible, self.thermal)}
        a = np.clip(self.visible.elev / 0.35, 0.0, 1.0)[..., None]
        sky = (1 - a) * np.array([205, 218, 232], np.float32) + a * np.array(
            [85, 135, 200], np.float32
        )
        self._sky_day = [np.ascontiguousarray(sky[..., c], np.float32) for c in range(3)]
        self._sky_thermal = 2000.0 * np.exp(-np.maximum(self.thermal.elev, 0) / 0.1).astype(
            np.float32
        )

    @staticmethod
    def _radial(cr: _CameraRays) -> np.ndarray:
        """Squared normalised distance from the image centre (vignetting)."""
        H, W = cr.dx.shape
        vv, uu = np.mgrid[0:H, 0:W].astype(np.float32)
        return ((uu - W / 2) / (W / 2)) ** 2 + ((vv - H / 2) / (H / 2)) ** 2

    @staticmethod
    def _rays(cam: PinholeCamera, R: np.ndarray, origin: np.ndarray) -> _CameraRays:
        d = cam.pixel_rays() @ R.T  # (H,W,3), scale keeps camera z-depth = 1
        dx, dy, dz = (np.ascontiguousarray(d[..., i], dtype=np.float32) for i in range(3))
        elev = (dz / np.sqrt(dx * dx + dy * dy + dz * dz)).astype(np.float32)
        with np.errstate(divide='ignore', invalid='ignore'):
            s = np.where(dz < 0, -origin[2] / dz, np.inf).astype(np.float32)
        s[s > SceneRenderer.GROUND_MAX] = np.inf
        fin = np.isfinite(s)
        gx = np.where(fin, origin[0] + s * dx, 0).astype(np.float32)
        gy = np.where(fin, origin[1] + s * dy, 0).astype(np.float32)
        return _CameraRays(cam, R, origin, dx, dy, dz, elev, s, gx, gy)

    # -- geometry helpers the tests and tools use
    def world_to_camera(
        self, scene: Scene, points_world: np.ndarray, camera: str = 'visible'
    ) -> np.ndarray:
        """World points (N,3) -> that camera's optical frame (N,3)."""
        cr = self._camera(camera)
        p = np.asarray(points_world, float).reshape(-1, 3) - np.array(
            [scene.ego_x, scene.ego_y, 0.0]
        )
        return (p - cr.origin) @ cr.R_ego_cam

    def _camera(self, camera: str) -> _CameraRays:
        if camera not in ('visible', 'thermal'):
            raise SceneError(f"camera must be 'visible' or 'thermal', got {camera!r}")
        return self.visible if camera == 'visible' else self.thermal

    # -- casting
    def _ground(self, cr: _CameraRays, L: RoadLayout, ex: float):
        """
        Road-plane materials that do not depend on the ego's distance along the road.

        Cached.
        """
        key = (id(cr), L, ex)
        hit = self._ground_cache.get(key)
        if hit is not None:
            return hit
        fin = np.isfinite(cr.ground_s)
        gx = cr.ground_x + np.float32(ex)
        mat = np.zeros(gx.shape, np.uint8)
        mat[fin] = MAT['grass']
        mat[fin & (gx > L.left_facade_x) & (gx < L.right_facade_x)] = MAT['sidewalk']
        road = fin & (gx >= L.road_left) & (gx <= L.road_right)
        mat[road] = MAT['asphalt']
        edges = (np.abs(gx - (L.lane_width - 0.1)) < 0.07) | (
            np.abs(gx - (L.road_left + 0.2)) < 0.07
        )
        mat[road & edges] = MAT['paint']
        dash_idx = np.flatnonzero(road & (np.abs(gx) < 0.08))
        self._ground_cache[key] = (mat, gx, dash_idx)
        return mat, gx, dash_idx

    def _facade_plane(self, cr: _CameraRays, xrel: float):
        """
        Pixels whose ray meets the plane ``X = xrel`` (ego frame) ahead.

        Flat indices, depth, y, z (cached).
        """
        key = (id(cr), xrel)
        hit = self._facade_cache.get(key)
        if hit is None:
            with np.errstate(divide='ignore', invalid='ignore'):
                s = (np.float32(xrel) - np.float32(cr.origin[0])) / cr.dx
            idx = np.flatnonzero(
                (s > 0) & (s < self.GROUND_MAX) & (np.float32(cr.origin[2]) + s * cr.dz >= 0)
            )
            sf = s.ravel()[idx]
            hit = (
                idx,
                sf,
                np.float32(cr.origin[1]) + sf * cr.dy.ravel()[idx],
                np.float32(cr.origin[2]) + sf * cr.dz.ravel()[idx],
            )
            self._facade_cache[key] = hit
        return hit

    def _cast(self, scene: Scene, cr: _CameraRays, obj_label: np.ndarray) -> _Buffers:
        H, W = cr.dx.shape
        L = scene.layout
        ex, ey = scene.ego_x, scene.ego_y
        depth = cr.ground_s.copy()
        gmat, gx, dash_idx = self._ground(cr, L, ex)
        mat = gmat.copy()
        gy = cr.ground_y + np.float32(ey)
        dash = dash_idx[np.mod(gy.ravel()[dash_idx], 9.0) < 3.0]
        mat.ravel()[dash] = MAT['paint']
        obj = np.full(
            (H, W), len(scene.objects) + len(scene.buildings), np.int32
        )  # sentinel: no object
        tu, tv = gx.copy(), gy

        n_static = len(scene.objects)
        for side, xp in ((-1, L.left_facade_x), (1, L.right_facade_x)):
            idx = [i for i, b in enumerate(scene.buildings) if b.side == side]
            if not idx:
                continue
            blds = [scene.buildings[i] for i in idx]
            order = np.argsort([b.y0 for b in blds])
            y0 = np.array([blds[j].y0 for j in order], np.float32)
            y1 = np.array([blds[j].y1 for j in order], np.float32)
            hgt = np.array([blds[j].height for j in order], np.float32)
            pitch_all = np.array([blds[j].window_pitch for j in order], np.float32)
            gid = np.array([n_static + idx[j] for j in order], np.int32)
            pix, s, fy_rel, zz = self._facade_plane(cr, float(xp - ex))
            yy = fy_rel + np.float32(ey)
            k = np.clip(np.searchsorted(y0, yy, side='right') - 1, 0, len(y0) - 1)
            ok = (s < depth.ravel()[pix]) & (yy >= y0[k]) & (yy < y1[k]) & (zz < hgt[k])
            if not ok.any():
                continue
            pix, s, yy, zz, k = pix[ok], s[ok], yy[ok], zz[ok], k[ok]
            depth.ravel()[pix] = s
            pitch = pitch_all[k]
            wy = np.mod(yy - y0[k], pitch) / pitch
            wz = np.mod(zz, 3.1) / 3.1
            win = (
                (wy > 0.25)
                & (wy < 0.75)
                & (wz > 0.3)
                & (wz < 0.8)
                & (zz > 2.5)
                & (zz < hgt[k] - 0.8)
            )
            cell = (
                np.floor((yy - y0[k]) / pitch) * 7 + np.floor(zz / 3.1) * 13 + gid[k] * 3
            ).astype(np.int64)
            lit = (cell * 2654435761 % 1000) < 350
            m = np.full(k.shape, MAT['facade'], np.uint8)
            m[win] = MAT['window']
            m[win & lit] = MAT['window_lit']
            mat.ravel()[pix] = m
            obj.ravel()[pix] = gid[k]
            tu.ravel()[pix] = yy
            tv.ravel()[pix] = zz

        label = self.tables.label[mat]
        tu = np.ascontiguousarray(tu, np.float32)
        tv = np.ascontiguousarray(tv, np.float32)

        def noise(a, b):
            return sample_noise(a, b, 1.0)

        boxes = self._bboxes(cr, scene.objects, ex, ey)
        for i, (o, box) in enumerate(zip(scene.objects, boxes)):
            if box is None:
                continue
            yr = o.y - ey - cr.origin[1]
            r0, r1, c0, c1 = box
            dy = cr.dy[r0:r1, c0:c1]
            with np.errstate(divide='ignore', invalid='ignore'):
                s = np.float32(yr) / dy
            u = np.float32(cr.origin[0] + ex - o.x) + s * cr.dx[r0:r1, c0:c1]
            v = np.float32(cr.origin[2]) + s * cr.dz[r0:r1, c0:c1]
            m = SILHOUETTES[o.kind](o, u, v, noise)
            ok = (m > 0) & (dy > 0) & (s < depth[r0:r1, c0:c1])
            if not ok.any():
                continue
            depth[r0:r1, c0:c1][ok] = s[ok]
            mat[r0:r1, c0:c1][ok] = m[ok]
            ml = self.tables.label[m[ok]]
            label[r0:r1, c0:c1][ok] = np.where(ml > 0, ml, obj_label[i])
            obj[r0:r1, c0:c1][ok] = i
            tu[r0:r1, c0:c1][ok] = u[ok] + np.float32(o.x * 3.7 + i * 11.3)
            tv[r0:r1, c0:c1][ok] = v[ok]
        sky = ~np.isfinite(depth)
        mat[sky] = MAT['sky']
        label[sky] = SKY
        return _Buffers(depth.astype(np.float32), mat, label, obj, tu, tv)

    @staticmethod
    def _bboxes(cr: _CameraRays, objects: list[SceneObject], ex: float, ey: float) -> list:
        """
        Pixel box around each object's rectangle, None when out of view.

        Edges are sampled, not just corners, because distortion bows them.
        """
        H, W = cr.dx.shape
        out: list = [None] * len(objects)
        ahead = [i for i, o in enumerate(objects) if o.y - ey - cr.origin[1] >= 0.3]
        if not ahead:
            return out
        t = np.linspace(0.0, 1.0, 7)
        ux = np.concatenate([-1 + 2 * t, np.ones(7), 1 - 2 * t, -np.ones(7)])
        vz = np.concatenate([np.zeros(7), t, np.ones(7), 1 - t])
        half = np.array(
            [
                objects[i].width / 2 + (1.7 if objects[i].kind == 'street_lamp' else 0.0)
                for i in ahead
            ]
        )
        hgt = np.array([objects[i].height for i in ahead])
        ox = np.array([objects[i].x - ex for i in ahead])
        oy = np.array([objects[i].y - ey for i in ahead])
        pts = np.stack(
            [ox[:, None] + half[:, None] * ux, np.repeat(oy[:, None], 28, 1), hgt[:, None] * vz],
            axis=2,
        )
        pc = (pts.reshape(-1, 3) - cr.origin) @ cr.R_ego_cam
        px = cr.cam.project(np.where(pc[:, 2:] < 0.05, np.array([0.0, 0.0, 1.0]), pc)).reshape(
            len(ahead), 28, 2
        )
        behind = (pc[:, 2] < 0.05).reshape(len(ahead), 28).any(axis=1)
        lo = np.floor(px.min(axis=1)).astype(int) - 3
        hi = np.ceil(px.max(axis=1)).astype(int) + 4
        for j, i in enumerate(ahead):
            c0, r0, c1, r1 = (
                (0, 0, W, H) if behind[j] else (lo[j, 0], lo[j, 1], hi[j, 0], hi[j, 1])
            )
            r0, r1, c0, c1 = max(r0, 0), min(r1, H), max(c0, 0), min(c1, W)
            if r0 < r1 and c0 < c1:
                out[i] = (r0, r1, c0, c1)
        return out

    # -- shading
    def _object_tables(self, scene: Scene):
        n_obj = len(scene.objects)
        colors = [o.color for o in scene.objects] + [b.color for b in scene.buildings]
        dts = [o.dtemp for o in scene.objects] + [b.dtemp for b in scene.buildings]
        rgb = np.array(colors + [(0, 0, 0)], np.float32).reshape(-1, 3)
        dt = np.array(dts + [0.0], np.float32)
        lab = np.array([KIND_LABEL[o.kind] for o in scene.objects] + [0], np.uint8)
        return rgb, dt, lab, n_obj

    def _shade_visible(self, scene, cr, b: _Buffers, obj_rgb, condition, rng) -> np.ndarray:
        """
        Colour per pixel, worked on as three planes.

        1-D gathers are far faster than (H,W,3) ones.
        """
        T = self.tables
        n_mat = len(T.rgb)
        colour_id = np.where(T.tinted[b.mat], b.obj + n_mat, b.mat)
        palette = np.concatenate([T.rgb, obj_rgb], axis=0)
        n = sample_noise(b.tu, b.tv, T.scale[b.mat])
        gain = 1.0 + T.rgb_noise[b.mat] * (n - np.float32(0.5)) * np.float32(2.0)
        sky = b.mat == MAT['sky']
        night = condition == 'night'
        if night:
            gain *= self._night_light(scene, cr, b)
            glow = T.glow[b.mat]
        else:
            gain *= T.shade[b.mat]
        fog = (
            np.exp(np.float32(-0.065) * b.depth) if condition == 'fog' else None
        )  # inf depth: all fog
        vig = 1.0 - np.float32(0.12) * self._vignette[id(cr)]
        planes = []
        for c in range(3):
            base = np.take(palette[:, c], colour_id)
            p = base * gain
            if night:
                np.maximum(p, base * glow, out=p)
                p[sky] = (8.0, 10.0, 22.0)[c]
            else:
                np.copyto(p, self._sky_day[c], where=sky)
            if fog is not None:
                p = p * fog + np.float32(200.0) * (1 - fog)
            planes.append(p)
        if condition == 'glare':
            planes = self._glare(planes, rng, vig.shape)
        rgb = cv2.merge([p * vig for p in planes])
        rgb = cv2.GaussianBlur(rgb, (0, 0), 0.6)
        noise = np.empty_like(rgb)
        cv2.setRNGSeed(
            int(rng.integers(1 << 31))
        )  # cv2's generator is much faster than numpy's here
        cv2.randn(noise, 0.0, 1.0)
        if night:  # read noise plus shot noise that grows with the signal
            rgb += noise * (np.float32(6.0) + np.sqrt(np.maximum(rgb, 0) * np.float32(0.5)))
        else:
            rgb += noise * np.float32(1.5)
        return np.clip(rgb, 0, 255).astype(np.uint8)

    def _night_light(self, scene, cr, b: _Buffers) -> np.ndarray:
        """Ambient starlight + street lamp pools + the ego's low beams."""
        fin = np.isfinite(b.depth)
        s = np.where(fin, b.depth, 0).astype(np.float32)
        wx = np.float32(cr.origin[0] + scene.ego_x) + s * cr.dx
        wy = np.float32(cr.origin[1] + scene.ego_y) + s * cr.dy
        wz = np.float32(cr.origin[2]) + s * cr.dz
        light = np.full(s.shape, 0.035, np.float32)
        for o in scene.objects:
            if o.kind == 'street_lamp' and o.y - scene.ego_y < 90:
                lx = o.x + 1.6 * o.facing
                light += (
                    1.1
                    * np.exp(-((wx - lx) ** 2 + (wy - o.y) ** 2) / (2 * 4.5**2))
                    * (wz < o.height)
                )
        fwd = wy - np.float32(scene.ego_y)
        beam = np.exp(-(((wx - np.float32(scene.ego_x)) / (1.2 + 0.18 * fwd)) ** 2)) / (
            1.0 + (fwd / 16.0) ** 2
        )
        light += 1.3 * beam * (fwd > 2.0) * (wz < 1.6)
        return light * fin

    @staticmethod
    def _glare(rgb: list, rng, shape) -> list:
        """Low sun near the top edge: a bloom, a streak and a veil washing out the image."""
        H, W = shape
        su, sv = float(rng.uniform(0.2 * W, 0.8 * W)), float(rng.uniform(-0.05 * H, 0.25 * H))
        du2 = ((np.arange(W, dtype=np.float32) - su) ** 2)[None, :]
        dv2 = ((np.arange(H, dtype=np.float32) - sv) ** 2)[:, None]
        r2 = du2 + dv2
        bloom = 255.0 * (np.exp(-r2 / (2 * 70.0 ** 2)) + 0.6 * np.exp(-r2 / (2 * 230.0 ** 2)))
        bloom += 160.0 * np.exp(-dv2 / (2 * 7.0 ** 2)) * np.exp(-np.sqrt(du2) / 260.0) + 45.0
        keep = 1.0 - 0.5 * np.clip(bloom / 255.0, 0, 1)
        return [p * keep + bloom * tint for p, tint in zip(rgb, (1.0, 0.97, 0.9))]

    def _shade_thermal(self, scene, cr, b: _Buffers, obj_dt, condition, rng) -> np.ndarray:
        T = self.tables
        night = condition == 'night'
        n = sample_noise(b.tu, b.tv, T.scale[b.mat])
        temp = (T.t_night if night else T.t_day)[b.mat] + T.t_noise[b.mat] * (
            n - np.float32(0.5)
        ) * np.float32(2.0)
        temp += obj_dt[b.obj]
        sky_t = np.float32(4800.0 if night else 5200.0) + self._sky_thermal
        temp = np.where(b.mat == MAT['sky'], sky_t, temp)
        if condition == 'fog':  # LWIR sees through fog far better than visible light
            tr = np.exp(np.float32(-0.004) * b.depth)
            temp = temp * tr + np.float32(7700.0) * (1 - tr)
        temp = cv2.GaussianBlur(temp.astype(np.float32), (0, 0), 0.8)
        temp += np.float32(-180.0) * self._vignette[id(cr)] + self._column_fpn[None, :]
        noise = np.empty_like(temp)
        cv2.setRNGSeed(int(rng.integers(1 << 31)))
        cv2.randn(noise, 0.0, 18.0)  # NETD
        temp += noise
        return np.clip(np.rint(temp), 0, 16383).astype(np.uint16)

    def _prepare(self, scene: Scene, condition: str, rng):
        if condition not in CONDITIONS:
            raise SceneError(
                f'unknown condition {condition!r}; choose one of {", ".join(CONDITIONS)}'
            )
        if not isinstance(scene, Scene):
            raise SceneError(f'render() needs a Scene, got {type(scene).__name__}')
        if rng is None:
            rng = np.random.default_rng([scene.seed, CONDITIONS.index(condition)])
        return self._object_tables(scene), rng

    def render_visible(
        self, scene: Scene, condition: str = 'day', rng: np.random.Generator | None = None
    ):
        """
        Visible camera only: (rgb, label, depth).

        Drives need it at the RGB camera's own instants.
        """
        (obj_rgb, _, obj_lab, _), rng = self._prepare(scene, condition, rng)
        b = self._cast(scene, self.visible, obj_lab)
        return (
            self._shade_visible(scene, self.visible, b, obj_rgb, condition, rng),
            b.label,
            b.depth,
        )

    def render_thermal(
        self, scene: Scene, condition: str = 'day', rng: np.random.Generator | None = None
    ):
        """Thermal camera only: (counts, label, depth)."""
        (_, obj_dt, obj_lab, _), rng = self._prepare(scene, condition, rng)
        b = self._cast(scene, self.thermal, obj_lab)
        return (
            self._shade_thermal(scene, self.thermal, b, obj_dt, condition, rng),
            b.label,
            b.depth,
        )

    def render(
        self, scene: Scene, condition: str = 'day', rng: np.random.Generator | None = None
    ) -> RenderedPair:
        """Both images of ``scene`` at the same instant under ``condition`` (one of CONDITIONS)."""
        (obj_rgb, obj_dt, obj_lab, _), rng = self._prepare(scene, condition, rng)
        bv = self._cast(scene, self.visible, obj_lab)
        bt = self._cast(scene, self.thermal, obj_lab)
        rgb = self._shade_visible(scene, self.visible, bv, obj_rgb, condition, rng)
        thermal = self._shade_thermal(scene, self.thermal, bt, obj_dt, condition, rng)
        return RenderedPair(rgb, thermal, bv.label, bv.depth, bt.label, bt.depth, condition)
