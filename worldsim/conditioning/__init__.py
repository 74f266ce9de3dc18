"""What the learned renderer sees, in one place.

- :mod:`worldsim.conditioning.arrays` (numpy only, no torch): a scene and the teacher's frames →
  the renderer's condition arrays. Dataset workers and live frames (CLI, envs) use the same code.
- :mod:`worldsim.conditioning.tensors` (torch): those arrays → the model's input tensors
  (:class:`~worldsim.conditioning.tensors.Conditions`), context frames and image conversions.

Nothing is imported here, so ``import worldsim.conditioning.arrays`` never loads torch.
"""
