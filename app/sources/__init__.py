"""Frame sources: GenICam cameras, image folders, video files and the synthetic demo line.

All satisfy :class:`app.sources.base.FrameSource`.
"""
