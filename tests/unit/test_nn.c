/* nn.c: every gradient against central finite differences; learning works;
 * determinism for a seed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "budgetd/learn/nn.h"

enum { LOSS_MSE, LOSS_HUBER, LOSS_LOG, LOSS_SOFTMAX };

#define N 7
static double x[N * 5], target[N * 4], weight[N], mask[N * 4];
static int label[N];

static void data(uint64_t seed)
{
	uint64_t s = seed;
	for (int i = 0; i < N * 5; i++)
		x[i] = (double)((s = s * 6364136223846793005ULL + 1442695040888963407ULL) >> 40) /
			       (1 << 23) - 1;
	for (int i = 0; i < N * 4; i++) {
		target[i] = (i * 7 % 5) / 4.0;
		mask[i] = i % 5 != 3; /* some targets unobserved */
	}
	for (int r = 0; r < N; r++) {
		weight[r] = 0.5 + r * 0.25; /* e.g. inverse propensities */
		label[r] = r % 4;
	}
}

static double loss_of(bd_nn_t *nn, int loss, double *d)
{
	const double *out = bd_nn_forward(nn, x, N);
	int m = nn->layer[nn->n_layers - 1].out;
	switch (loss) {
	case LOSS_MSE: return bd_nn_loss_mse(out, target, weight, mask, N, m, d);
	case LOSS_HUBER: return bd_nn_loss_huber(out, target, weight, mask, N, m, 0.3, d);
	case LOSS_LOG: return bd_nn_loss_logloss(out, target, weight, mask, N, m, d);
	default: return bd_nn_loss_softmax(out, label, weight, N, m, d);
	}
}

static void check_gradients(const bd_nn_act_t *acts, int loss)
{
	int sizes[4] = {5, 6, 6, 4};
	bd_nn_t *nn;
	double d[N * 4], dx[N * 5], scratch[N * 4];
	const double h = 1e-6;

	data(42);
	assert_int_equal(bd_nn_new(3, sizes, acts, 7, &nn), 0);
	/* nonzero biases so that every path is exercised */
	for (int l = 0; l < 3; l++)
		for (int j = 0; j < nn->layer[l].out; j++)
			nn->layer[l].b[j] = 0.05 * (j - 2);
	loss_of(nn, loss, d);
	bd_nn_backward(nn, x, d, N, dx);
	for (int l = 0; l < 3; l++) {
		bd_nn_layer_t *L = &nn->layer[l];
		int nw = L->in * L->out;
		double *g = malloc(sizeof(double) * (size_t)(nw + L->out));
		memcpy(g, L->gw, sizeof(double) * (size_t)nw);
		memcpy(g + nw, L->gb, sizeof(double) * (size_t)L->out);
		for (int i = 0; i < nw + L->out; i++) {
			double *p = i < nw ? &L->w[i] : &L->b[i - nw], keep = *p;
			*p = keep + h;
			double up = loss_of(nn, loss, scratch);
			*p = keep - h;
			double down = loss_of(nn, loss, scratch);
			*p = keep;
			double num = (up - down) / (2 * h), err = fabs(num - g[i]);
			if (err > 1e-6 * (1 + fabs(num)))
				fail_msg("loss %d layer %d param %d: analytic %.10g numeric %.10g",
					 loss, l, i, g[i], num);
		}
		free(g);
	}
	/* and the gradient with respect to the input, for chaining networks */
	for (int i = 0; i < N * 5; i++) {
		double keep = x[i];
		x[i] = keep + h;
		double up = loss_of(nn, loss, scratch);
		x[i] = keep - h;
		double down = loss_of(nn, loss, scratch);
		x[i] = keep;
		double num = (up - down) / (2 * h);
		if (fabs(num - dx[i]) > 1e-6 * (1 + fabs(num)))
			fail_msg("loss %d dx[%d]: analytic %.10g numeric %.10g", loss, i, dx[i], num);
	}
	bd_nn_free(nn);
}

static void test_gradients(void **state)
{
	bd_nn_act_t relu_lin[3] = {BD_NN_RELU, BD_NN_RELU, BD_NN_LINEAR};
	bd_nn_act_t sig_sig[3] = {BD_NN_SIGMOID, BD_NN_RELU, BD_NN_SIGMOID};
	(void)state;
	check_gradients(relu_lin, LOSS_MSE);
	check_gradients(relu_lin, LOSS_HUBER);
	check_gradients(relu_lin, LOSS_SOFTMAX);
	check_gradients(sig_sig, LOSS_LOG);
	check_gradients(sig_sig, LOSS_MSE);
}

/* y = sin(3 x0) + x1^2 on 512 points: a 2-layer ReLU net with Adam gets the
 * mean squared error well below the variance of y. */
static void test_learns(void **state)
{
	enum { M = 512 };
	static double X[M * 2], Y[M], D[M];
	int sizes[4] = {2, 32, 32, 1};
	bd_nn_act_t acts[3] = {BD_NN_RELU, BD_NN_RELU, BD_NN_LINEAR};
	bd_nn_adam_t adam;
	bd_nn_t *a, *b;
	uint64_t s = 3;
	double mean = 0, var = 0, la = 0, lb = 0;
	(void)state;
	for (int i = 0; i < M; i++) {
		X[2 * i] = (double)(i % 64) / 32 - 1;
		X[2 * i + 1] = (double)(i / 64) / 4 - 1;
		Y[i] = sin(3 * X[2 * i]) + X[2 * i + 1] * X[2 * i + 1];
		mean += Y[i] / M;
	}
	for (int i = 0; i < M; i++)
		var += (Y[i] - mean) * (Y[i] - mean) / M;
	bd_nn_adam_default(&adam);
	adam.lr = 0.01;
	assert_int_equal(bd_nn_new(3, sizes, acts, 11, &a), 0);
	assert_int_equal(bd_nn_new(3, sizes, acts, 11, &b), 0);
	for (int step = 0; step < 1500; step++) {
		(void)s;
		la = bd_nn_loss_mse(bd_nn_forward(a, X, M), Y, NULL, NULL, M, 1, D);
		bd_nn_backward(a, X, D, M, NULL);
		bd_nn_adam_step(a, &adam);
		lb = bd_nn_loss_mse(bd_nn_forward(b, X, M), Y, NULL, NULL, M, 1, D);
		bd_nn_backward(b, X, D, M, NULL);
		bd_nn_adam_step(b, &adam);
	}
	if (!(la < 0.05 * var))
		fail_msg("mse %.5f not below 5%% of the variance %.5f", la, var);
	assert_true(la == lb); /* deterministic for a seed */
	assert_int_equal(bd_nn_params(a), 2 * 32 + 32 + 32 * 32 + 32 + 32 + 1);
	bd_nn_t *c;
	assert_int_equal(bd_nn_clone(a, &c), 0);
	double lc = bd_nn_loss_mse(bd_nn_forward(c, X, M), Y, NULL, NULL, M, 1, D);
	double la2 = bd_nn_loss_mse(bd_nn_forward(a, X, M), Y, NULL, NULL, M, 1, D);
	assert_true(lc == la2);
	bd_nn_free(a);
	bd_nn_free(b);
	bd_nn_free(c);
}

static void test_shuffle_and_errors(void **state)
{
	int idx[100], seen[100] = {0};
	uint64_t r = 5;
	bd_nn_t *nn;
	int bad[3] = {4, 0, 2};
	bd_nn_act_t acts[2] = {BD_NN_RELU, BD_NN_LINEAR};
	(void)state;
	for (int i = 0; i < 100; i++)
		idx[i] = i;
	bd_nn_shuffle(idx, 100, &r);
	for (int i = 0; i < 100; i++)
		seen[idx[i]]++;
	for (int i = 0; i < 100; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(bd_nn_new(2, bad, acts, 1, &nn), BD_EINVAL);
	assert_int_equal(bd_nn_new(0, bad, acts, 1, &nn), BD_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gradients),
		cmocka_unit_test(test_learns),
		cmocka_unit_test(test_shuffle_and_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
