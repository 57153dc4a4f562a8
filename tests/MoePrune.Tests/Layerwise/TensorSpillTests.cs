using MoePrune.Layerwise;
using MoePrune.Tests.IO;
using Xunit;
using static TorchSharp.torch;

namespace MoePrune.Tests.Layerwise;

/// <summary>The spill file of a layer-by-layer merge: values come back bit for bit, in any order and more than once; the file goes with the spill.</summary>
public class TensorSpillTests
{
    [Fact]
    public void TensorsComeBackBitForBitAndTheFileIsDeleted()
    {
        MoePrune.Native.TorchNative.EnsureLoaded();
        using var tmp = new TempDir();
        using var a = randn(7, 5, dtype: ScalarType.BFloat16);                                     // (7, 5)
        using var b = randn(3, 11);                                                                 // (3, 11) fp32
        using var c = randn(11, 3).t();                                                             // (3, 11) fp32, not contiguous
        string path;
        using (var spill = new TensorSpill(tmp.Path))
        {
            path = spill.FilePath;
            var (pa, pb, pc) = (spill.Add(a), spill.Add(b), spill.Add(c));
            Assert.Equal((7 * 5 * 2) + (3 * 11 * 4) * 2, spill.Bytes);
            Assert.True(File.Exists(path));
            foreach (var (planned, expected) in new[] { (pc, c), (pa, a), (pb, b), (pa, a) })
            {
                Assert.Equal(expected.shape, planned.Shape);
                Assert.Equal(expected.dtype, planned.Dtype);
                using var read = planned.Open();
                using var same = read.eq(expected).all();
                Assert.True(same.item<bool>(), "values differ");
            }
        }
        Assert.False(File.Exists(path));
        Assert.Throws<MoePruneException>(() => new TensorSpill(Path.Combine(tmp.Path, "missing", "folder")));
    }
}
