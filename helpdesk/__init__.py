"""The video guidance helpdesk (视频导办帮办): application shell that wires the components."""

__version__ = "0.1.0"
