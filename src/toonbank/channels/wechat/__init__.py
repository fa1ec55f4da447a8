"""WeChat Official Account (公众号)."""

from toonbank.channels.wechat.channel import WeChatChannel

__all__ = ["WeChatChannel"]
