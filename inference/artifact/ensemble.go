package artifact

import (
	"errors"
	"fmt"

	"github.com/nlpodyssey/gopickle/types"

	"github.com/rfkih/blackheart-inference/inference"
)

// DecodeEnsemble reads the pickled Ensemble through the allowlisted classes.
func DecodeEnsemble(obj *PyObject) (*inference.EnsembleState, error) {
	st := obj.StateDict()
	if st == nil {
		return nil, corrupt("ensemble has no state")
	}
	models, ok := dictReader{st, "ensemble"}.get("models")
	if !ok {
		return nil, corrupt("ensemble has no models")
	}
	items := sequence(models)
	if len(items) == 0 {
		return nil, corrupt("ensemble has no models")
	}
	out := &inference.EnsembleState{}
	for i, it := range items {
		m, err := decodeMember(it)
		if err != nil {
			return nil, corrupt("ensemble member %d: %v", i, messageOf(err))
		}
		out.Members = append(out.Members, m)
	}
	return out, nil
}

func messageOf(err error) string {
	var e *inference.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

func decodeMember(v any) (inference.EnsembleMember, error) {
	var m inference.EnsembleMember
	fbm, ok := v.(*PyObject)
	if !ok || fbm.Module+"."+fbm.Name != "blackheart_train.ensemble.FittedBaseModel" {
		return m, fmt.Errorf("is a %s, not a FittedBaseModel", pyTypeName(v))
	}
	st := fbm.StateDict()
	if st == nil {
		return m, fmt.Errorf("FittedBaseModel has no state")
	}
	d := dictReader{st, "FittedBaseModel"}
	kind, err := d.str("kind")
	if err != nil {
		return m, err
	}
	m.Kind = kind
	model, _ := d.get("model")
	est, ok := model.(*PyObject)
	if !ok || est.StateDict() == nil {
		return m, fmt.Errorf("%s model is a %s", kind, pyTypeName(model))
	}
	es := dictReader{est.StateDict(), est.Name}
	classes, known := memberClasses[kind]
	if !known {
		return m, fmt.Errorf("unknown base model kind %q", kind)
	}
	if m.Classifier, ok = classes[est.Module+"."+est.Name]; !ok {
		return m, fmt.Errorf("%s member is a %s.%s", kind, est.Module, est.Name)
	}
	switch kind {
	case inference.KindLightGBM:
		b, _ := es.get("_Booster")
		if m.LightGBM, err = DecodeLightGBMBooster(b); err != nil {
			return m, err
		}
	case inference.KindXGBoost:
		b, _ := es.get("_Booster")
		bo, ok := b.(*PyObject)
		if !ok || bo.Module+"."+bo.Name != "xgboost.core.Booster" || bo.StateDict() == nil {
			return m, fmt.Errorf("xgboost _Booster is a %s", pyTypeName(b))
		}
		h, _ := dictReader{bo.StateDict(), "Booster"}.get("handle")
		switch raw := h.(type) {
		case *types.ByteArray:
			m.XGBoost = []byte(*raw)
		case []byte:
			m.XGBoost = raw
		default:
			return m, fmt.Errorf("xgboost Booster handle is a %s", pyTypeName(h))
		}
	case inference.KindLogReg:
		if m.Logistic, err = decodeLogistic(es, d); err != nil {
			return m, err
		}
	}
	return m, nil
}

// memberClasses are the estimator classes each member kind may be, and
// whether the class is a classifier (whose predict_proba the trainer
// averages).
var memberClasses = map[string]map[string]bool{
	inference.KindLightGBM: {"lightgbm.sklearn.LGBMClassifier": true, "lightgbm.sklearn.LGBMRegressor": false},
	inference.KindXGBoost:  {"xgboost.sklearn.XGBClassifier": true, "xgboost.sklearn.XGBRegressor": false},
	inference.KindLogReg:   {"sklearn.linear_model._logistic.LogisticRegressionCV": false},
}

func decodeLogistic(model, fbm dictReader) (*inference.Logistic, error) {
	coef, cshape, err := floatArray(model, "coef_")
	if err != nil {
		return nil, err
	}
	if len(cshape) != 2 || cshape[0] < 3 {
		return nil, fmt.Errorf("coef_ has shape %v; only multinomial (3+ classes) models are served", cshape)
	}
	intercept, _, err := floatArray(model, "intercept_")
	if err != nil {
		return nil, err
	}
	if len(intercept) != cshape[0] {
		return nil, fmt.Errorf("intercept_ has %d entries for %d classes", len(intercept), cshape[0])
	}
	sc, _ := fbm.get("scaler")
	scaler, ok := sc.(*PyObject)
	if !ok || scaler.Module+"."+scaler.Name != "sklearn.preprocessing._data.StandardScaler" || scaler.StateDict() == nil {
		return nil, fmt.Errorf("logreg_l1 scaler is a %s", pyTypeName(sc))
	}
	s := dictReader{scaler.StateDict(), "StandardScaler"}
	mean, _, err := floatArray(s, "mean_")
	if err != nil {
		return nil, err
	}
	scale, _, err := floatArray(s, "scale_")
	if err != nil {
		return nil, err
	}
	if len(mean) != cshape[1] || len(scale) != cshape[1] {
		return nil, fmt.Errorf("scaler has %d/%d entries for %d features", len(mean), len(scale), cshape[1])
	}
	l := &inference.Logistic{Intercept: intercept, Mean: mean, Scale: scale}
	for k := 0; k < cshape[0]; k++ {
		l.Coef = append(l.Coef, coef[k*cshape[1]:(k+1)*cshape[1]])
	}
	return l, nil
}

func floatArray(d dictReader, key string) ([]float64, []int, error) {
	v, err := d.field(key)
	if err != nil {
		return nil, nil, err
	}
	a, ok := v.(*NumpyArray)
	if !ok {
		return nil, nil, fmt.Errorf("%s is a %s, not a numpy array", key, pyTypeName(v))
	}
	if a.Dtype.Kind != "f8" {
		return nil, nil, fmt.Errorf("%s has dtype %s, not float64", key, a.Dtype.Kind)
	}
	f, err := a.Float64s()
	return f, a.Shape, err
}
