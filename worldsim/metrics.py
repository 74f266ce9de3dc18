"""Clip metrics (numpy only): image fidelity, physics consistency, identity and flicker.

Foreground segmentation of a generated frame (for IoU): each pixel is matched, up to a shading
factor s ∈ [0.15, 1.4] (so light and shadow do not matter), against the palette of the floor's
albedo colours and the palettes of the objects' albedo colours, both taken from the physics albedo
pass; it is foreground when an object colour explains it better than any floor colour. On reference
frames this gives IoU close to 1 (measured by ``worldsim eval``, reported as ``reference_iou``).
"""

from __future__ import annotations

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """PSNR in dB of uint8 images/clips, optionally only where ``mask`` (broadcast over channels)."""
    diff = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    if mask is not None:
        if not mask.any():
            return float("nan")
        diff = diff[mask]
    return psnr_of_mse(diff.mean())


def psnr_of_mse(mse: float) -> float:
    """PSNR in dB of a mean squared error on the 0–255 scale (capped at 100 dB for an exact match)."""
    return float(10 * np.log10(255.0**2 / max(mse, 1e-10)))


def ssim_map(a: np.ndarray, b: np.ndarray, size: int = 7) -> np.ndarray:
    """Per-pixel SSIM (Wang et al. 2004, uniform 7x7 window, mean over channels) of two uint8 images."""
    x, y = a.astype(np.float64), b.astype(np.float64)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    from scipy.ndimage import uniform_filter  # here, not at the top: training on a bare GPU machine needs only psnr

    f = lambda v: uniform_filter(v, size=(size, size, 1), mode="reflect")  # noqa: E731
    mx, my = f(x), f(y)
    vx, vy, cov = f(x * x) - mx * mx, f(y * y) - my * my, f(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.mean(axis=-1)


def ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM of two images (H, W, 3), optionally inside ``mask`` (H, W)."""
    s = ssim_map(a, b)
    if mask is not None:
        return float(s[mask].mean()) if mask.any() else float("nan")
    return float(s.mean())


def palette(albedo: np.ndarray, mask: np.ndarray, max_colours: int = 12) -> np.ndarray:
    """The most frequent albedo colours under ``mask`` (quantised to 16 levels), (M, 3) float."""
    colours = albedo[mask].astype(np.int64)
    if len(colours) == 0:
        return np.zeros((0, 3))
    q = colours // 16
    keys, inverse, counts = np.unique(q[:, 0] * 256 + q[:, 1] * 16 + q[:, 2], return_inverse=True, return_counts=True)
    order = np.argsort(-counts)[:max_colours]
    return np.stack([colours[inverse == k].mean(0) for k in order]).astype(np.float64)


def _best_residual(pixels: np.ndarray, pal: np.ndarray, shading: tuple[float, float] = (0.15, 1.4)) -> np.ndarray:
    """Per pixel, min over palette colours a and shading s (within ``shading``) of |pixel − s·a|."""
    if len(pal) == 0:
        return np.full(len(pixels), np.inf)
    dots = pixels @ pal.T  # (N, M)
    norms = (pal * pal).sum(1)
    s = np.clip(dots / np.maximum(norms, 1e-6), *shading)
    # |p − s·a|² expanded, so no (N, M, 3) array is built: a 256² frame against 32 colours took 0.14 s
    res = (pixels * pixels).sum(1)[:, None] - 2 * s * dots + s * s * norms
    return np.sqrt(np.maximum(res.min(1), 0.0))


def segment_foreground(frame: np.ndarray, floor_palette: np.ndarray, object_palette: np.ndarray,
                       empty_palette: np.ndarray | None = None) -> np.ndarray:
    """Boolean (H, W): pixels of ``frame`` better explained by an object colour than by the floor
    (any shading) or by the empty background colour (unshaded: it is a clear colour, not a surface)."""
    pixels = frame.reshape(-1, 3).astype(np.float64)
    background = _best_residual(pixels, floor_palette)
    if empty_palette is not None and len(empty_palette):
        background = np.minimum(background, _best_residual(pixels, empty_palette, (1.0, 1.0)))
    fg = _best_residual(pixels, object_palette) < background
    return fg.reshape(frame.shape[:2])


def iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def colour_drift(frames: np.ndarray, segmentation: np.ndarray, bodies: list[int], min_pixels: int = 8) -> float:
    """Mean over objects of the RGB distance (0–255) between their mean colour in each frame and in
    the first frame where they are visible: "the cup changes colour" in one number."""
    drifts = []
    for body in bodies:
        means = [frames[t][segmentation[t] == body].mean(0) for t in range(len(frames))
                 if (segmentation[t] == body).sum() >= min_pixels]
        if len(means) >= 2:
            means = np.asarray(means)
            drifts.append(np.linalg.norm(means - means[0], axis=1).mean())
    return float(np.mean(drifts)) if drifts else 0.0


def flicker(frames: np.ndarray) -> float:
    """VBench temporal flickering: ``(255 − mean |frame_t − frame_{t+1}|) / 255`` (1 = perfectly still)."""
    if len(frames) < 2:
        return 1.0
    diff = np.abs(frames[1:].astype(np.float64) - frames[:-1].astype(np.float64)).mean()
    return float((255.0 - diff) / 255.0)


def flip(a: np.ndarray, b: np.ndarray) -> float:
    """Mean ꟻLIP error (NVIDIA's perceptual difference for rendered images, LDR, sRGB) of ``a`` against
    the reference ``b``; both ``(H, W, 3) uint8``. 0 is identical; lower is better."""
    import flip_evaluator

    ref = np.ascontiguousarray(b, dtype=np.float32) / 255.0
    test = np.ascontiguousarray(a, dtype=np.float32) / 255.0
    return float(flip_evaluator.evaluate(ref, test, "LDR")[1])


def patch_seams(model: np.ndarray, reference: np.ndarray, patch: int = 8) -> float:
    """How much the error steps at the model's patch borders: the mean |step| of ``model − reference``
    between neighbouring pixels across a border of the ``patch`` grid, over the mean |step| between
    any other neighbours. 1 when errors do not care where the borders are; 8×8 blocks score well above.

    Steps of the error, not of the image, so real edges that fall on a border cancel. Frames are
    ``(..., H, W, 3) uint8``; an exact model scores 1.
    """
    error = model.astype(np.float32) - reference.astype(np.float32)
    across, along = [], []
    for axis in (-3, -2):  # rows, columns
        steps = np.abs(np.diff(error, axis=axis))
        lines = np.moveaxis(steps, axis, 0).reshape(steps.shape[axis], -1).mean(axis=1)
        border = np.arange(lines.size) % patch == patch - 1  # the step from pixel k·p − 1 to k·p
        across.append(lines[border])
        along.append(lines[~border])
    off = float(np.concatenate(along).mean())
    return float(np.concatenate(across).mean()) / off if off > 1e-6 else 1.0


def patch_ripple(model: np.ndarray, reference: np.ndarray, patch: int = 8) -> float:
    """How much of the error repeats with the ``patch`` grid, in 8-bit levels (RMS): the error with its
    ``patch``-wide box blur taken away (which keeps anything of period ``patch`` whole and removes
    slow trends), averaged over every pixel at the same place within its patch, over the clip.

    :func:`patch_seams` sees steps at patch borders; tents leave none, but a token's output patch that
    is not flat still draws a faint grid where neighbouring tokens agree (a brighter ring around each
    patch centre on a plain floor). Error that does not follow the grid averages out over a clip's
    patches (``sigma / sqrt(patches)``); an exact model scores 0. Frames are ``(..., H, W, 3) uint8``,
    the whole clip one window of :func:`worldsim.flow.periodic_error`.
    """
    import torch

    from worldsim.flow import periodic_error  # the training loss's term, so metric and loss cannot drift apart

    error = model.astype(np.float32) - reference.astype(np.float32)
    error = torch.from_numpy(error.reshape(1, -1, *error.shape[-3:])).permute(0, 1, 4, 2, 3)  # one (1, T, 3, H, W) window
    return float(periodic_error(error, patch).square().mean().sqrt())


def edge_strength(frame: np.ndarray) -> np.ndarray:
    """Per pixel, the largest colour step (RGB distance in [0, 1] units) to a 4-neighbour, ``(H, W)``."""
    x = frame.astype(np.float32) / 255.0
    out = np.zeros(x.shape[:2], np.float32)
    dx = np.linalg.norm(x[:, 1:] - x[:, :-1], axis=-1)
    dy = np.linalg.norm(x[1:] - x[:-1], axis=-1)
    out[:, 1:] = np.maximum(out[:, 1:], dx)
    out[:, :-1] = np.maximum(out[:, :-1], dx)
    out[1:] = np.maximum(out[1:], dy)
    out[:-1] = np.maximum(out[:-1], dy)
    return out


def _pairs(axis: int, offset: int, shape: tuple[int, int]) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
    """Index pairs (p, p + 1 along ``axis``), both moved by ``offset`` along ``axis``, clipped to the image."""
    n = shape[axis]
    lo, hi = [slice(None)] * 2, [slice(None)] * 2
    lo[axis] = slice(max(0, offset), n - 1 + min(0, offset))
    hi[axis] = slice(max(0, offset) + 1, n + min(0, offset))
    return tuple(lo), tuple(hi)


def clipped(frame: np.ndarray, margin: int = 5) -> np.ndarray:
    """Pixels the camera clipped: every channel within ``margin`` levels of white, or of black.

    Two such neighbours cannot show a colour step whatever the bodies' albedos: a glare that burns a
    pale body and the floor under it to white leaves no edge to find. ``frame``: ``(..., H, W, 3) uint8``.
    """
    return (frame.min(axis=-1) >= 255 - margin) | (frame.max(axis=-1) <= margin)


def boundary_consistency(frame: np.ndarray, albedo: np.ndarray, segmentation: np.ndarray, bodies: list[int] | None = None,
                         min_contrast: float = 0.1, ratio: float = 0.07, floor_step: float = 0.02,
                         min_pixels: int = 6, unreadable: np.ndarray | None = None) -> float:
    """Physics consistency that holds under any lighting: does the frame show a colour step wherever
    the physics says one body meets another of a different colour?

    Palette matching (the IoU above) assumes a pixel's colour is its albedo times a grey shading; a
    path tracer's coloured sky, bounce light and glossy reflections break that (it gives 0.27 on
    Cycles' own frames). Steps across boundaries survive lighting. For every pair of neighbouring
    pixels on two different bodies whose albedos differ by at least ``min_contrast`` (RGB distance in
    [0, 1] units), the pair counts as shown when the frame's colour step across it, or across the
    same pair moved one pixel either way along it, is at least ``max(floor_step, ratio x the albedo
    step)``. The score is the fraction shown, averaged over bodies (each body's pairs, at least
    ``min_pixels``), so a small body that vanishes or moves costs as much as a large one. Pairs with
    empty space are left out (the sky's colour is not in the albedo), and so are pairs the reference
    clipped on both sides (``unreadable``).

    Args:
        frame, albedo: ``(H, W, 3) uint8``; segmentation ``(H, W)`` body indices (−1 empty).
        bodies: the bodies to score (default: every body with enough boundary).
        unreadable: ``(H, W)`` bool, pixels where no step can be asked for; a pair with both sides
            unreadable is left out. Pass the *reference's* :func:`clipped` pixels, the same mask
            for the model's frame and the reference's, so a model cannot excuse a missing edge by
            burning its own frame to white.

    Returns:
        A score in [0, 1], or NaN when no boundary is visible.
    """
    a = albedo.astype(np.float32) / 255.0
    x = frame.astype(np.float32) / 255.0
    seg = segmentation
    owners, shown = [], []
    for axis in (0, 1):
        lo, hi = _pairs(axis, 0, seg.shape)
        need = np.linalg.norm(a[lo] - a[hi], axis=-1)
        edge = (seg[lo] != seg[hi]) & (seg[lo] >= 0) & (seg[hi] >= 0) & (need >= min_contrast)
        if unreadable is not None:
            edge &= ~(unreadable[lo] & unreadable[hi])
        step = np.linalg.norm(x[lo] - x[hi], axis=-1)
        for offset in (-1, 1):  # the same pair one pixel earlier or later along the axis
            plo, phi = _pairs(axis, offset, seg.shape)
            moved = np.zeros_like(step)
            target = [slice(None)] * 2
            target[axis] = slice(max(0, -offset), step.shape[axis] - max(0, offset))
            moved[tuple(target)] = np.linalg.norm(x[plo] - x[phi], axis=-1)
            step = np.maximum(step, moved)
        ok = step >= np.maximum(floor_step, ratio * need)
        for side in (seg[lo], seg[hi]):
            owners.append(side[edge])
            shown.append(ok[edge])
    owners, shown = np.concatenate(owners), np.concatenate(shown)
    if owners.size == 0:
        return float("nan")
    ids = bodies if bodies is not None else np.unique(owners).tolist()
    scores = [shown[owners == b].mean() for b in ids if (owners == b).sum() >= min_pixels]
    return float(np.mean(scores)) if scores else float("nan")


def consistency_pair(model: np.ndarray, reference: np.ndarray, albedo: np.ndarray,
                     segmentation: np.ndarray) -> tuple[float, float]:
    """:func:`boundary_consistency` of one frame of a model and of its reference, both with the
    reference's :func:`clipped` pixels left out (the only mask that does not excuse a burnt model frame).

    Args:
        model, reference, albedo: ``(H, W, 3) uint8``; segmentation ``(H, W)`` body indices (−1 empty).
    """
    burnt = clipped(reference)
    return (boundary_consistency(model, albedo, segmentation, unreadable=burnt),
            boundary_consistency(reference, albedo, segmentation, unreadable=burnt))


def clip_metrics(model: np.ndarray, reference: np.ndarray, albedo: np.ndarray, segmentation: np.ndarray,
                 floor_bodies: list[int]) -> dict:
    """Every metric of one clip, overall and per frame.

    Args:
        model, reference, albedo: ``(T, H, W, 3) uint8``.
        segmentation: ``(T, H, W)`` body indices (−1 empty).
        floor_bodies: body indices that count as background (the ground planes).
    """
    floor = np.isin(segmentation, floor_bodies)
    objects = (segmentation >= 0) & ~floor
    floor_pal = palette(albedo, floor)
    object_pal = palette(albedo, objects, max_colours=32)
    empty_pal = palette(reference, segmentation < 0, max_colours=2)
    bodies = sorted(set(np.unique(segmentation[objects]).tolist()))
    per_frame = {"psnr": [], "psnr_objects": [], "ssim": [], "iou": [], "reference_iou": [], "consistency": [],
                 "reference_consistency": []}
    ssim_objects = []
    for t in range(len(model)):
        per_frame["psnr"].append(psnr(model[t], reference[t]))
        per_frame["psnr_objects"].append(psnr(model[t], reference[t], objects[t]))
        structure = ssim_map(model[t], reference[t])  # once per frame, for the whole frame and its objects
        per_frame["ssim"].append(float(structure.mean()))
        ssim_objects.append(float(structure[objects[t]].mean()) if objects[t].any() else float("nan"))
        per_frame["iou"].append(iou(segment_foreground(model[t], floor_pal, object_pal, empty_pal), objects[t]))
        per_frame["reference_iou"].append(iou(segment_foreground(reference[t], floor_pal, object_pal, empty_pal), objects[t]))
        scores = consistency_pair(model[t], reference[t], albedo[t], segmentation[t])
        per_frame["consistency"].append(scores[0])
        per_frame["reference_consistency"].append(scores[1])
    summary = {
        "psnr": psnr(model, reference),
        "psnr_objects": psnr(model, reference, objects),
        "flip": float(np.mean([flip(model[t], reference[t]) for t in range(len(model))])),
        "ssim": float(np.mean(per_frame["ssim"])),
        "ssim_objects": float(np.nanmean(ssim_objects)),
        "iou": float(np.mean(per_frame["iou"])),
        "reference_iou": float(np.mean(per_frame["reference_iou"])),
        "consistency": float(np.nanmean(per_frame["consistency"])),
        "reference_consistency": float(np.nanmean(per_frame["reference_consistency"])),
        "colour_drift": colour_drift(model, segmentation, bodies),
        "reference_colour_drift": colour_drift(reference, segmentation, bodies),
        "flicker": flicker(model),
        "reference_flicker": flicker(reference),
        "albedo_copy_psnr": psnr(albedo, reference),
        "patch_seams": patch_seams(model, reference),
        "patch_ripple": patch_ripple(model, reference),
    }
    return {"summary": summary, "per_frame": per_frame}


# Surface kinds for the error breakdown, disjoint, in the order a pixel is assigned to them.
SURFACES = ("empty", "metal", "glossy_area_lit", "glossy", "rough")
GLOSSY_ROUGHNESS = 0.4  # below it a surface shows sharp highlights and reflections
AREA_LIT_IRRADIANCE = 0.5  # W/m² of unshadowed area-light irradiance: the pixel faces a nearby area light


def surface_masks(segmentation: np.ndarray, pbr: np.ndarray, area_light: np.ndarray) -> dict[str, np.ndarray]:
    """Each pixel's surface kind, as one boolean mask per name of :data:`SURFACES` (they partition the pixels).

    ``empty`` is no body (the sky or clear colour); ``metal`` metallic ≥ 0.5; ``glossy_area_lit`` a
    non-metal with roughness below :data:`GLOSSY_ROUGHNESS` facing an area light (where the light's
    reflection, the glare, shows); ``glossy`` the other such surfaces; ``rough`` the rest.

    Args:
        segmentation: ``(..., H, W)`` body indices (−1 empty).
        pbr: ``(..., H, W, 3) uint8`` roughness, metallic, specular × 255
            (:func:`worldsim.conditioning.arrays.pbr_map`).
        area_light: ``(..., H, W, 3)`` unshadowed area-light irradiance, W/m² RGB.
    """
    empty = np.asarray(segmentation) < 0
    roughness, metallic = pbr[..., 0] / 255.0, pbr[..., 1] / 255.0
    metal = ~empty & (metallic >= 0.5)
    glossy = ~empty & ~metal & (roughness < GLOSSY_ROUGHNESS)
    lit = np.asarray(area_light, np.float32).max(-1) > AREA_LIT_IRRADIANCE
    masks = {"empty": empty, "metal": metal, "glossy_area_lit": glossy & lit, "glossy": glossy & ~lit}
    masks["rough"] = ~(empty | metal | glossy)
    return masks


def squared_error_by_surface(model: np.ndarray, reference: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """Per surface kind, ``[sum of squared error over pixels and channels, pixel count]`` of uint8
    ``model`` against ``reference`` (``(..., H, W, 3)``): sums, so clips pool exactly."""
    diff = ((model.astype(np.float64) - reference.astype(np.float64)) ** 2).sum(-1)
    return {name: [float(diff[mask].sum()), int(mask.sum())] for name, mask in masks.items()}


def error_by_surface(sums: list[dict[str, list[float]]]) -> dict[str, dict[str, float]]:
    """Pool :func:`squared_error_by_surface` over clips: per surface kind its PSNR, share of the pixels
    and share of the squared error (where a model's error sits; shares sum to 1). PSNR is NaN for a
    kind no clip shows."""
    total = {name: np.sum([s[name] for s in sums], axis=0) for name in sums[0]}
    error, pixels = sum(v[0] for v in total.values()), sum(v[1] for v in total.values())
    out = {}
    for name, (sse, count) in total.items():
        out[name] = {"psnr": psnr_of_mse(sse / (3 * count)) if count else float("nan"),
                     "pixel_share": float(count / max(pixels, 1)), "error_share": float(sse / error) if error else 0.0}
    return out
