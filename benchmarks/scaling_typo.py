"""What the reader's typo costs on this stack: test images left unscaled.

Fits the book's pipeline on full MNIST (``random_state=0``), then scores its network
on the properly scaled test images and on the unscaled ones, as the typo
``test_image = test_images.astype('float32') / 255`` left them.

    SK_MNIST_DATA=../shared/datasets/mnist python benchmarks/scaling_typo.py
"""

from sk_mnist import load_mnist, make_mnist_pipeline


def main():
    (X_train, y_train), (X_test, y_test) = load_mnist()
    pipeline = make_mnist_pipeline(random_state=0).fit(X_train, y_train)
    network = pipeline.named_steps["classifier"]
    unscaled = X_test.reshape((10000, 28 * 28)).astype("float32")  # the typo
    print(f"test accuracy, pipeline (scaled):   {pipeline.score(X_test, y_test):.4f}")
    print(f"test accuracy, unscaled test images: {network.score(unscaled, y_test):.4f}")


if __name__ == "__main__":
    main()
