"""The teacher side: everything that draws the physics directly, with no learning involved.

- :mod:`~worldsim.teacher.camera`: pinhole geometry (intrinsics, extrinsics, projection);
- :mod:`~worldsim.teacher.tiny`: PyBullet's TinyRenderer drawing a frame's reference RGB and its
  condition maps (:func:`render_frame`);
- :mod:`~worldsim.teacher.raster`, :mod:`~worldsim.teacher.scene_mesh` and :mod:`~worldsim.teacher.maps`:
  the same maps from worldsim's own triangles (the ones Cycles draws), compiled, for many views at once;
- :mod:`~worldsim.teacher.gbuffer`: the maps derived from depth and segmentation (numpy only);
- :mod:`~worldsim.teacher.shadows`: light visibility from a shadow map;
- :mod:`~worldsim.teacher.visual_shapes` and :mod:`~worldsim.teacher.cycles`: the triangles every
  renderer draws, and Blender Cycles path-tracing them.

This package imports PyBullet (and Blender, only when Cycles is asked for) and never torch.
"""
