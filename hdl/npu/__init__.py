"""The AXNet NPU: its parameters (:mod:`.config`), programs (:mod:`.program`), golden model
(:mod:`.golden`), RTL (:mod:`.pe`, :mod:`.tile`, :mod:`.core`), configuration image (:mod:`.image`)
and cycle model (:mod:`.cycles`). See docs/npu.md."""
