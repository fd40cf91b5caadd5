"""TensorFlow's own count of a model's multiply-adds: the flops statistic its profiler registers for each
convolution and matrix product in the model's graph, halved (TensorFlow counts a multiply and an add)."""

from __future__ import annotations

COUNTED = ("Conv2D", "DepthwiseConv2dNative", "MatMul")  # transposed convolutions: TF's figure is approximate


def tensorflow_multiply_adds(build, input_shape) -> int:
    """Multiply-adds per image of the model ``build()`` returns, as TensorFlow's profiler counts them.

    The model is built and called in a graph of its own (its weights never allocated)."""
    import tensorflow as tf
    from tensorflow.python.framework import ops

    graph = tf.Graph()
    with graph.as_default():
        model = build()
        model(tf.compat.v1.placeholder(tf.float32, (1, *input_shape)), training=False)
        flops = [
            ops.get_stats_for_node_def(graph, op.node_def, "flops").value or 0
            for op in graph.get_operations()
            if op.type in COUNTED
        ]
    return sum(flops) // 2
